/**
 * The waypoint end to end (root): `meshctl waypoint apply --wait` on a running local cluster starts a
 * waypoint pod with its own identity; curl in a pod reaches a service bound to it through the waypoint
 * (curl → its ztunnel → HBONE → waypoint → HBONE → the chosen pod's ztunnel → app), an HTTPRoute's
 * header match and weight split decide which version answers, and the ztunnel log shows the hop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../../src/local/netns/index.js';
import { parse } from 'yaml';
import { skip, waitFor, meshctl, restartCluster, startCluster } from './harness.js';

const NAME = `mlw${process.pid % 100000}`;

test(
  'waypoint: meshctl waypoint apply, traffic through it, HTTPRoute header match and weights',
  { skip, timeout: 150_000 },
  async (t) => {
    let cluster = await startCluster(t, NAME, ['deploy/local/demo.yaml', 'test/e2e/local/fixtures/web.yaml']);
    const cfg = cluster.dirs.config;
    let curlPod = cluster.pods.find((p) => p.deployment === 'curl')!;
    const curl = async (
      url: string,
      headers: string[] = [],
    ): Promise<{ ok: boolean; servedBy: string; body: string }> => {
      try {
        const args = ['netns', 'exec', curlPod.netns, 'curl', '-sS', '--max-time', '5'];
        for (const h of headers) args.push('-H', h);
        const r = await runCommand('ip', [...args, url]);
        const body = r.stdout;
        return {
          ok: true,
          servedBy: String((JSON.parse(body) as { servedBy?: string }).servedBy ?? ''),
          body,
        };
      } catch (err) {
        return { ok: false, servedBy: '', body: String((err as Error).message) };
      }
    };

    const applyWaypoint = (): Promise<{ code: number; out: string }> =>
      meshctl(['waypoint', 'apply', '-n', 'default', '--wait', '--timeout', '60', '--config-dir', cfg]);

    await t.test(
      'meshctl waypoint apply --wait: a waypoint pod with its own identity, programmed',
      async () => {
        const r = await applyWaypoint();
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /waypoint default\/waypoint applied/);
        assert.match(r.out, /programmed and serving/);
        const list = await meshctl(['waypoint', 'list', '-n', 'default', '--config-dir', cfg]);
        assert.match(
          list.out,
          /default\s+waypoint\s+service\s+True\s+waypoint\.default\.svc\.cluster\.local/,
        );
        assert.ok(
          cluster.pods.some((p) => p.name === 'waypoint-1' && p.spec.serviceAccountName === 'waypoint'),
        );
      },
    );

    await t.test(
      'curl reaches web through the waypoint; both versions answer; ztunnel logs the waypoint hop',
      async () => {
        const seen = new Set<string>();
        await waitFor('both versions through the waypoint', async () => {
          const r = await curl('http://web:9080/');
          if (r.ok) seen.add(r.servedBy);
          return seen.size === 2;
        });
        const zt = cluster.ztunnels.get(curlPod.node)!;
        const hop = zt.proc.lines.find((l) => l.access === true && l.path === 'waypoint');
        assert.ok(hop, 'the curl node ztunnel logged a connection with path "waypoint"');
        assert.equal(hop.dst_identity, 'spiffe://cluster.local/ns/default/sa/waypoint');
        assert.equal(hop.src_identity, 'spiffe://cluster.local/ns/default/sa/curl');
      },
    );

    await t.test('an HTTPRoute: end-user jason → v2 only; otherwise a 90/10 split', async () => {
      await writeFile(
        join(cfg, 'httproute-default-web.yaml'),
        `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{group: "", kind: Service, name: web, port: 9080}]
  rules:
  - matches: [{headers: [{name: end-user, value: jason}]}]
    backendRefs: [{name: web-v2, port: 9080}]
  - backendRefs: [{name: web-v1, port: 9080, weight: 90}, {name: web-v2, port: 9080, weight: 10}]
`,
      );
      await waitFor('the route to apply', async () => {
        let v2 = 0;
        for (let i = 0; i < 5; i++)
          if ((await curl('http://web:9080/', ['end-user: jason'])).servedBy.startsWith('web-v2')) v2++;
        return v2 === 5;
      });
      let v1 = 0;
      let v2 = 0;
      for (let i = 0; i < 100; i++) {
        const r = await curl('http://web:9080/');
        assert.ok(r.ok, r.body);
        if (r.servedBy.startsWith('web-v1')) v1++;
        else if (r.servedBy.startsWith('web-v2')) v2++;
      }
      assert.equal(v1 + v2, 100);
      assert.ok(v2 >= 2 && v2 <= 22, `about 10 of 100 to v2, got ${v2}`);
      const wp = cluster.pods.find((p) => p.name === 'waypoint-1')!;
      const metrics = (
        await runCommand('ip', ['netns', 'exec', wp.netns, 'curl', '-sS', `http://${wp.ip}:15020/metrics`])
      ).stdout;
      assert.match(
        metrics,
        /istio_requests_total\{reporter="waypoint",.*destination_service="web-v2\.default\.svc\.cluster\.local".*response_code="200"/,
      );
    });

    await t.test('a VirtualService: abort at 30 %, delay at 50 %, a timeout, header changes', async () => {
      await rm(join(cfg, 'httproute-default-web.yaml'), { force: true });
      await writeFile(
        join(cfg, 'virtualservice-default-web.yaml'),
        `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - match: [{uri: {prefix: /delay/}}]
    route: [{destination: {host: web}}]
    timeout: 500ms
  - match: [{uri: {prefix: /fault}}]
    route: [{destination: {host: web}}]
    fault:
      abort: {httpStatus: 503, percentage: {value: 30}}
      delay: {fixedDelay: 10ms, percentage: {value: 50}}
  - route: [{destination: {host: web}}]
    headers:
      request: {set: {x-added: by-waypoint}, remove: [x-secret]}
      response: {add: {x-route: default}}
`,
      );
      await waitFor('the VirtualService to apply', async () => {
        const r = await curl('http://web:9080/x', ['x-secret: s']);
        return r.ok && r.body.includes('by-waypoint');
      });
      const h = await curl('http://web:9080/x', ['x-secret: s']);
      assert.ok(!h.body.includes('x-secret'), 'removed request header');
      const timedOut = await runCommand('ip', [
        'netns',
        'exec',
        curlPod.netns,
        'curl',
        '-s',
        '-w',
        ' %{http_code}',
        'http://web:9080/delay/2',
      ]);
      assert.equal(timedOut.stdout, 'upstream request timeout 504');
      let aborted = 0;
      for (let i = 0; i < 100; i++) {
        const r = await runCommand('ip', [
          'netns',
          'exec',
          curlPod.netns,
          'curl',
          '-s',
          '-o',
          '/dev/null',
          '-w',
          '%{http_code}',
          'http://web:9080/fault',
        ]);
        if (r.stdout === '503') aborted++;
        else assert.equal(r.stdout, '200');
      }
      assert.ok(aborted >= 15 && aborted <= 45, `about 30 of 100 aborted, got ${aborted}`);
      const wp = cluster.pods.find((p) => p.name === 'waypoint-1')!;
      const log = await readFile(join(cluster.dirs.logs, `pod-default-${wp.name}.log`), 'utf8');
      const access = log
        .split('\n')
        .filter((l) => l.includes('"msg":"access"') && l.includes('"path":"/fault"'))
        .map((l) => JSON.parse(l) as { response_flags: string; response_code: number });
      assert.equal(
        access.filter((a) => a.response_flags === 'FI' && a.response_code === 503).length,
        aborted,
      );
      const delayed = access.filter((a) => a.response_flags === 'DI').length;
      // Delay and abort are drawn independently: about half of the un-aborted requests are delayed.
      assert.ok(delayed >= 15 && delayed <= 55, `about 35 delayed, got ${delayed}`);
    });

    await t.test(
      'the cluster up again on the same state: the waypoint is not programmed until it serves',
      async () => {
        // As `meshctl down` then `meshctl up`: the Gateway and its objects stay in the configuration, but
        // the run's tokens are new. (Once, the old token file was kept and the waypoint crash-looped on
        // "not a known node token" while its old log line kept it Programmed.)
        cluster = await restartCluster(cluster);
        const gw = parse(await readFile(join(cfg, 'gateway-default-waypoint.yaml'), 'utf8')) as {
          status: { conditions: { type: string; status: string }[] };
        };
        assert.equal(gw.status.conditions.find((c) => c.type === 'Programmed')?.status, 'False');
        cluster.watch(250);
        curlPod = cluster.pods.find((p) => p.deployment === 'curl')!;
        const r = await applyWaypoint();
        assert.equal(r.code, 0, r.out);
        const through = await curl('http://web:9080/');
        assert.ok(through.ok, through.body);
        assert.match(through.body, /x-request-id/i, 'the waypoint added x-request-id');
        const wp = cluster.pods.find((p) => p.name === 'waypoint-1')!;
        const log = await readFile(join(cluster.dirs.logs, `pod-default-${wp.name}.log`), 'utf8');
        assert.doesNotMatch(log, /not a known node token/);
      },
    );

    await t.test('meshctl waypoint delete removes the waypoint pod', async () => {
      const r = await meshctl(['waypoint', 'delete', 'waypoint', '-n', 'default', '--config-dir', cfg]);
      assert.equal(r.code, 0, r.out);
      await waitFor('the waypoint pod to go', () => !cluster.pods.some((p) => p.name === 'waypoint-1'));
    });
  },
);
