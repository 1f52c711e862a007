/**
 * Sidecar mode end to end (root): a namespace labelled istio-injection=enabled gets its pods injected
 * (istio-proxy container, istio-init's rules in the pod's namespace, ztunnel leaves them alone);
 * sidecar → sidecar, sidecar → ambient, ambient → sidecar and sidecar → a waypoint-bound service all
 * carry both identities over HBONE, with nothing in plaintext on the node link; the sidecar's inbound
 * side enforces AuthorizationPolicy and RequestAuthentication bound by selector; `meshctl rollout
 * restart deployment` injects pods of a namespace labelled while they ran, and the replaced sidecar
 * pods' bootstrap tokens leave istiod's token file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { runCommand } from '../../../src/local/netns/index.js';
import type { LocalCluster } from '../../../src/local/cluster/cluster.js';
import { skip, sleep, waitFor, meshctl, startCluster } from './harness.js';

const NAME = `mls${process.pid % 100000}`;

async function curlFrom(
  cluster: LocalCluster,
  pod: string,
  url: string,
  headers: string[] = [],
): Promise<{ ok: boolean; body: string }> {
  const [ns, name] = pod.split('/');
  const p = cluster.pods.find((x) => x.namespace === ns && (x.deployment === name || x.name === name))!;
  const args = ['netns', 'exec', p.netns, 'curl', '-sS', '--max-time', '5', '-f'];
  for (const h of headers) args.push('-H', h);
  try {
    return { ok: true, body: (await runCommand('ip', [...args, url])).stdout };
  } catch (err) {
    return { ok: false, body: (err as Error).message };
  }
}

/** curl from a pod without -f: the status code and body a user sees. */
async function statusFrom(
  cluster: LocalCluster,
  pod: string,
  url: string,
  args: string[] = [],
): Promise<{ code: number; body: string }> {
  const [ns, name] = pod.split('/');
  const p = cluster.pods.find((x) => x.namespace === ns && (x.deployment === name || x.name === name))!;
  const cmd = [
    'netns',
    'exec',
    p.netns,
    'curl',
    '-sS',
    '--max-time',
    '5',
    '-w',
    '\n%{http_code}',
    ...args,
    url,
  ];
  try {
    const out = (await runCommand('ip', cmd)).stdout;
    const i = out.lastIndexOf('\n');
    return { code: Number(out.slice(i + 1)), body: out.slice(0, i) };
  } catch (err) {
    return { code: 0, body: (err as Error).message };
  }
}

/** JSON access records (msg "access") of a pod's containers, from the pod log. */
async function accessOf(
  cluster: LocalCluster,
  ns: string,
  pod: string,
): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(cluster.dirs.logs, `pod-${ns}-${pod}.log`), 'utf8').catch(() => '');
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o.msg === 'access') out.push(o);
    } catch {
      /* app output */
    }
  }
  return out;
}

async function metricsOf(cluster: LocalCluster, ns: string, pod: string): Promise<string> {
  const p = cluster.pods.find((x) => x.namespace === ns && x.name === pod)!;
  return (await runCommand('ip', ['netns', 'exec', p.netns, 'curl', '-sS', `http://${p.ip}:15020/metrics`]))
    .stdout;
}

test(
  'sidecar mode: injection, sidecar ↔ sidecar, ↔ ambient, → waypoint',
  { skip, timeout: 240_000 },
  async (t) => {
    const cluster = await startCluster(t, NAME, [
      'deploy/local/demo.yaml',
      'test/e2e/local/fixtures/sidecar.yaml',
    ]);
    const cfg = cluster.dirs.config;
    const sleepPod = cluster.pods.find((p) => p.deployment === 'sleep')!;
    const webPod = cluster.pods.find((p) => p.namespace === 'sc' && p.deployment === 'web')!;

    await t.test('injection: istio-proxy first, capture rules in the pod, meshctl status', async () => {
      assert.equal(sleepPod.spec.sidecar, true);
      assert.equal(sleepPod.spec.containers[0]!.name, 'istio-proxy');
      assert.ok(
        !cluster.pods.find((p) => p.deployment === 'curl')!.spec.sidecar,
        'ambient curl is not injected',
      );
      const inPod = (
        await runCommand('ip', ['netns', 'exec', webPod.netns, 'nft', 'list', 'table', 'ip', 'istio_sidecar'])
      ).stdout;
      assert.match(inPod, /redirect to :15001/);
      assert.match(inPod, /redirect to :15006/);
      assert.match(inPod, /meta mark 0x00000539 accept/);
      assert.match(inPod, /tcp dport \{ 15008, 15020, 15021, 15090 \} accept/);
      const st = await meshctl(['status', '--state-dir', join(cfg, '..')]);
      assert.match(st.out, /sc\/web-1\s+\S+\s+node-2\s+yes\s+no\s+yes/, st.out);
      assert.match(st.out, /default\/curl-1\s+\S+\s+node-1\s+yes\s+yes\s+no/, st.out);
      const zt = cluster.ztunnels.get('node-2')!;
      assert.ok(
        !zt.proc.lines.some(
          (l) =>
            l.msg === 'capture: pod enrolled (rules and listeners in its namespace)' && l.pod === 'sc/web-1',
        ),
        'ztunnel never enrolled the sidecar pod',
      );
    });

    await t.test('sidecar → sidecar: HBONE with both pods identities', async () => {
      let r = { ok: false, body: '' };
      await waitFor(
        'sleep to reach web through both sidecars',
        async () => {
          r = await curlFrom(cluster, 'sc/sleep', 'http://web:9080/hello');
          return r.ok;
        },
        60_000,
      );
      assert.match(r.body, /"servedBy": "web-1"/);
      await waitFor('the inbound access record', async () =>
        (await accessOf(cluster, 'sc', 'web-1')).some(
          (a) =>
            a.role === 'inbound' &&
            a.source_principal === 'spiffe://cluster.local/ns/sc/sa/sleep' &&
            a.path === '/hello',
        ),
      );
      const m = await metricsOf(cluster, 'sc', 'web-1');
      assert.match(
        m,
        /istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/sc\/sa\/sleep"[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/sc\/sa\/web"[^}]*response_code="200"[^}]*connection_security_policy="mutual_tls"/,
      );
      const out = await metricsOf(cluster, 'sc', 'sleep-1');
      assert.match(
        out,
        /istio_requests_total\{reporter="source",[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/sc\/sa\/web"[^}]*destination_service="web\.sc\.svc\.cluster\.local"/,
      );
    });

    await t.test(
      'sidecar → ambient pod: the ztunnel in front of echo sees the sidecar identity',
      async () => {
        let r = { ok: false, body: '' };
        await waitFor('sleep to reach echo.default', async () => {
          r = await curlFrom(cluster, 'sc/sleep', 'http://echo.default:8080/');
          return r.ok;
        });
        // The tunnel stays open (the sidecar pools its upstream connection): ztunnel's metrics, not
        // its access log (written at close), show the connection with both identities.
        const n2 = cluster.nodes[1]!;
        const m = (
          await runCommand('ip', ['netns', 'exec', n2.netns, 'curl', '-sS', `http://${n2.ip}:15020/metrics`])
        ).stdout;
        assert.match(
          m,
          /istio_tcp_connections_opened_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/sc\/sa\/sleep"[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/echo"[^}]*connection_security_policy="mutual_tls"/,
        );
      },
    );

    await t.test('ambient pod → sidecar pod: ztunnel tunnels to the sidecar’s 15008', async () => {
      let r = { ok: false, body: '' };
      await waitFor('curl to reach web.sc', async () => {
        r = await curlFrom(cluster, 'default/curl', 'http://web.sc:9080/from-ambient');
        return r.ok;
      });
      await waitFor('web inbound record with curl identity', async () =>
        (await accessOf(cluster, 'sc', 'web-1')).some(
          (a) =>
            a.source_principal === 'spiffe://cluster.local/ns/default/sa/curl' && a.path === '/from-ambient',
        ),
      );
      const zt = cluster.ztunnels.get('node-1')!;
      // ztunnel writes its access record when the connection closes.
      await waitFor('the curl ztunnel record of HBONE to the sidecar pod identity', () =>
        zt.proc.lines.some(
          (l) =>
            l.access === true &&
            l.direction === 'outbound' &&
            l.dst_identity === 'spiffe://cluster.local/ns/sc/sa/web',
        ),
      );
    });

    await t.test(
      'inbound policy at the sidecar: selector-bound DENY 403, ALLOW 403 for others, JWT 401',
      async () => {
        const ISS = 'https://issuer.sidecar.test';
        const kp = await generateKeyPair('RS256');
        const jwk = { ...(await exportJWK(kp.publicKey)), kid: 'sc', alg: 'RS256' };
        const sign = (key = kp.privateKey): Promise<string> =>
          new SignJWT({ sub: 'jason', aud: 'web' })
            .setProtectedHeader({ alg: 'RS256', kid: 'sc' })
            .setIssuer(ISS)
            .setExpirationTime('10m')
            .sign(key);
        const file = join(cfg, 'sidecar-policy.yaml');
        await writeFile(
          file,
          `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-no-delete, namespace: sc}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-from-sleep, namespace: sc}
spec:
  selector: {matchLabels: {app: web}}
  rules: [{from: [{source: {principals: [cluster.local/ns/sc/sa/sleep]}}]}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: web-jwt, namespace: sc}
spec:
  selector: {matchLabels: {app: web}}
  jwtRules: [{issuer: "${ISS}", audiences: [web], jwks: '${JSON.stringify({ keys: [jwk] })}'}]
`,
        );
        const url = 'http://web:9080/policy';
        await waitFor('DELETE from sleep to be denied by the DENY policy', async () => {
          const r = await statusFrom(cluster, 'sc/sleep', url, ['-X', 'DELETE']);
          return r.code === 403 && r.body === 'RBAC: access denied';
        });
        assert.equal((await statusFrom(cluster, 'sc/sleep', url)).code, 200, 'GET from sleep is allowed');
        const other = await statusFrom(cluster, 'default/curl', 'http://web.sc:9080/policy');
        assert.deepEqual(other, { code: 403, body: 'RBAC: access denied' }, 'the ambient curl is not sleep');
        const bad = await statusFrom(cluster, 'sc/sleep', url, [
          '-H',
          `authorization: Bearer ${await sign((await generateKeyPair('RS256')).privateKey)}`,
        ]);
        assert.deepEqual(bad, { code: 401, body: 'Jwt verification fails' });
        const good = await statusFrom(cluster, 'sc/sleep', url, [
          '-H',
          `authorization: Bearer ${await sign()}`,
        ]);
        assert.equal(good.code, 200, good.body);
        await waitFor('the denial in web’s sidecar log and destination metrics', async () => {
          const log = await readFile(join(cluster.dirs.logs, 'pod-sc-web-1.log'), 'utf8');
          const m = await metricsOf(cluster, 'sc', 'web-1');
          return (
            log.includes('rbac: denied by a DENY policy') &&
            /istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/curl"[^}]*response_code="403"/.test(
              m,
            )
          );
        });
        // A port no service names is judged at L4 (the ALLOW names sleep only): curl's tunnel is refused.
        const port = `${webPod.ip}:9999`;
        await statusFrom(cluster, 'default/curl', `http://${port}/`);
        await waitFor('the L4 denial in web’s sidecar log', async () =>
          (await readFile(join(cluster.dirs.logs, 'pod-sc-web-1.log'), 'utf8'))
            .split('\n')
            .some((l) => l.includes('connection denied by policy (L4)') && l.includes(`"dst":"${port}"`)),
        );
        await rm(file);
        await waitFor('the policies to be lifted', async () => {
          return (await statusFrom(cluster, 'default/curl', 'http://web.sc:9080/policy')).code === 200;
        });
      },
    );

    await t.test('no plaintext on the node link between sidecars', async () => {
      const dump = spawn(
        'ip',
        ['netns', 'exec', cluster.nodes[0]!.netns, 'tcpdump', '-i', 'eth0', '-A', '-l', '-n', 'tcp'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let text = '';
      dump.stdout.on('data', (d: Buffer) => (text += d.toString('latin1')));
      let started = false;
      dump.stderr.on('data', (d: Buffer) => (started ||= d.toString().includes('listening')));
      await waitFor('tcpdump start', () => started, 5000);
      const marker = `sidecarsecret${process.pid}`;
      const r = await curlFrom(cluster, 'sc/sleep', `http://web:9080/?m=${marker}`, [`x-marker: ${marker}`]);
      assert.ok(r.ok, r.body);
      assert.ok(r.body.includes(marker), 'the app saw the marker');
      await sleep(500);
      dump.kill('SIGTERM');
      await new Promise((res) => dump.once('exit', res));
      assert.ok(text.includes('.15008'), 'HBONE packets were seen on the node link');
      assert.ok(!text.includes(marker), 'the marker must not appear in plaintext on the node link');
    });

    await t.test('sidecar → a waypoint-bound service goes through the waypoint', async () => {
      const wp = await meshctl([
        'waypoint',
        'apply',
        '-n',
        'default',
        '--wait',
        '--timeout',
        '60',
        '--config-dir',
        cfg,
      ]);
      assert.equal(wp.code, 0, wp.out);
      const lbl = await meshctl([
        'label',
        'service',
        'echo',
        '-n',
        'default',
        'istio.io/use-waypoint=waypoint',
        '--config-dir',
        cfg,
      ]);
      assert.equal(lbl.code, 0, lbl.out);
      await waitFor(
        'the waypoint to report a request from the sidecar',
        async () => {
          await curlFrom(cluster, 'sc/sleep', 'http://echo.default:8080/via-waypoint');
          const acc = await accessOf(cluster, 'default', 'waypoint-1');
          return acc.some(
            (a) =>
              a.source_principal === 'spiffe://cluster.local/ns/sc/sa/sleep' && a.path === '/via-waypoint',
          );
        },
        60_000,
      );
      const m = await metricsOf(cluster, 'sc', 'sleep-1');
      assert.match(
        m,
        /istio_requests_total\{reporter="source",[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/default\/sa\/waypoint"/,
      );
    });

    await t.test('rollout restart deployment injects a namespace labelled at runtime', async () => {
      const nsFile = join(cfg, 'namespace-default.yaml');
      await writeFile(
        nsFile,
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  labels: {istio.io/dataplane-mode: ambient, istio-injection: enabled}\n',
      );
      await sleep(1500);
      assert.ok(
        !cluster.pods.find((p) => p.deployment === 'echo')!.spec.sidecar,
        'running pods keep their mode',
      );
      // What `meshctl rollout restart deployment echo -n default` asks the cluster over its control socket.
      await cluster.restartDeployment('default', 'echo', () => undefined);
      const echo = cluster.pods.find((p) => p.deployment === 'echo')!;
      assert.equal(echo.spec.sidecar, true);
      await waitFor(
        'sleep to reach the injected echo (both sidecars)',
        async () => {
          const x = await curlFrom(cluster, 'sc/sleep', 'http://echo.default:8080/after-restart');
          return x.ok;
        },
        60_000,
      );
    });

    await t.test('a removed sidecar pod’s bootstrap token leaves the token file', async () => {
      const tokens = join(cfg, '..', 'node-tokens.json');
      const nodes = async (): Promise<string[]> =>
        (JSON.parse(await readFile(tokens, 'utf8')) as { tokens: { node: string }[] }).tokens.map(
          (r) => r.node,
        );
      assert.ok((await nodes()).includes('sidecar/sc/sleep-1'), (await nodes()).join(', '));
      const del = await meshctl(['delete', 'deployment', 'sleep', '-n', 'sc', '--config-dir', cfg]);
      assert.equal(del.code, 0, del.out);
      await waitFor('sleep-1 to be removed', () => !cluster.pods.some((p) => p.deployment === 'sleep'));
      await waitFor('its token record to go', async () => !(await nodes()).includes('sidecar/sc/sleep-1'));
      assert.ok((await nodes()).includes('sidecar/sc/web-1'), 'the other sidecars keep theirs');
    });
  },
);
