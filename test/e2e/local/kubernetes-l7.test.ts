/**
 * `meshctl up --kubernetes` end to end, L7: with the mesh installed as users install it (meshctl
 * install), a waypoint Gateway gets its Deployment from istiod's controller, the kubelet role runs its
 * pod (the project's waypoint, its own identity and xDS from istiod in the cluster), and an HTTPRoute
 * applied with kubectl routes through it (a header match, then a patch); pods of an
 * `istio-injection=enabled` namespace get istio-init and istio-proxy from the webhook the API server
 * calls, the kubelet runs them (capture rules, the proxy as uid 1337) and they talk with mutual TLS;
 * meshctl status tells ambient, sidecar and waypoint pods apart. Each step is a subtest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listNetns } from '../../../src/local/netns/index.js';
import { meshctl, waitFor } from './harness.js';
import { GATEWAY_NAME, KubeE2e, REDIRECTION, SIDECAR, WAYPOINT, kubeSkip, ready } from './kube-harness.js';

const NAME = 'k8l7';

test(
  'meshctl up --kubernetes: a waypoint pod routes, injected sidecars talk mTLS, meshctl status',
  { skip: kubeSkip, timeout: 280_000 },
  async (t) => {
    const k = await KubeE2e.create(t, NAME);
    await k.up(t);

    await t.test('meshctl install with the waypoint example; then the injected namespace', async () => {
      // The waypoint's namespace (ambient, istio.io/use-waypoint), its Gateway, apps and HTTPRoute:
      // their pods start while the mesh does.
      await k.install(async () => void (await k.kubectl('apply', '-f', WAYPOINT)));
      // The injected namespace once istiod (its webhook) runs: its pods start during the next step.
      await k.kubectl('apply', '-f', SIDECAR);
    });

    /** curl in shop -> web (through the namespace's waypoint): the pod that answered. */
    const shopCurl = async (headers: string[] = []): Promise<string> => {
      const r = await k.exec('shop/curl', ['curl', '-sS', '-m', '5', ...headers, 'http://web:8080/']);
      if (r.code !== 0) return `failed: ${r.out.trim()}`;
      try {
        return String((JSON.parse(r.out) as { servedBy?: string }).servedBy);
      } catch {
        return `not JSON: ${r.out.trim()}`;
      }
    };
    const jason = ['-H', 'end-user: jason'];
    const servedBy = async (what: string, headers: string[], want: RegExp): Promise<void> => {
      let last = '';
      await waitFor(
        what,
        async () => {
          last = await shopCurl(headers);
          return want.test(last);
        },
        30_000,
      ).catch((err: Error) => k.diagnose(new Error(`${err.message} (last answer: ${last})`)));
    };

    await t.test(
      'waypoint: istiod makes the Deployment of a Gateway, its pod runs, an HTTPRoute routes through it',
      async () => {
        await waitFor(
          'the waypoint pod ready and the shop apps enrolled',
          async () => {
            const ps = await k.pods('shop');
            const apps = ps.filter((p) => !p.metadata.labels?.[GATEWAY_NAME]);
            return (
              ps.length === 4 &&
              ps.every(ready) &&
              apps.every((p) => p.metadata.annotations?.[REDIRECTION] === 'enabled')
            );
          },
          90_000,
        ).catch((e: Error) => k.diagnose(e));
        const dep = JSON.parse(
          await k.kubectl('get', 'deployment', '-n', 'shop', 'waypoint', '-o', 'json'),
        ) as {
          metadata: { ownerReferences?: Array<{ kind: string; name: string }> };
        };
        assert.deepEqual(
          dep.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}`),
          ['Gateway/waypoint'],
        );
        const gw = JSON.parse(await k.kubectl('get', 'gateway', '-n', 'shop', 'waypoint', '-o', 'json')) as {
          status?: { conditions?: Array<{ type: string; status: string }> };
        };
        assert.ok(gw.status?.conditions?.some((c) => c.type === 'Programmed' && c.status === 'True'));

        // The HTTPRoute (end-user: jason -> v2, else v1) holds for every request.
        await servedBy('jason -> web-v2 through the waypoint', jason, /^web-v2-/);
        for (let i = 0; i < 2; i++) {
          assert.match(await shopCurl(), /^web-v1-/);
          assert.match(await shopCurl(jason), /^web-v2-/);
        }
        // The path: curl's ztunnel sent it to the waypoint (its own identity), the waypoint chose v2.
        const [wp] = await k.pods('shop', `${GATEWAY_NAME}=waypoint`);
        const zt1 = (await k.pods('istio-system', 'app=ztunnel')).find((p) => p.spec.nodeName === 'node-1')!;
        assert.match(
          await k.podLog(zt1),
          /"direction":"outbound".*"src_identity":"spiffe:\/\/cluster.local\/ns\/shop\/sa\/curl".*"dst_identity":"spiffe:\/\/cluster.local\/ns\/shop\/sa\/waypoint"/,
        );
        assert.match(
          await k.podLog(wp!),
          /"part":"access".*"response_code":200.*"upstream_cluster":"[^"]*web-v2\.shop\.svc\.cluster\.local"/,
        );

        // A changed route applied with kubectl takes effect: everyone to v2.
        await k.kubectl(
          'patch',
          'httproute',
          '-n',
          'shop',
          'web',
          '--type=json',
          '-p',
          JSON.stringify([{ op: 'replace', path: '/spec/rules/1/backendRefs/0/name', value: 'web-v2' }]),
        );
        await servedBy('after kubectl patch: no header -> web-v2', [], /^web-v2-/);
      },
    );

    await t.test(
      'sidecar injection: istio-init and istio-proxy from the webhook, run by the kubelet, mTLS between sidecars',
      async () => {
        await waitFor(
          'the legacy pods (app and sidecar) ready',
          async () => {
            const ps = await k.pods('legacy');
            return ps.length === 2 && ps.every(ready);
          },
          90_000,
        ).catch((e: Error) => k.diagnose(e));
        const ps = await k.pods('legacy');
        for (const p of ps) {
          assert.deepEqual(
            p.spec.initContainers?.map((c) => c.name),
            ['istio-init'],
          );
          assert.deepEqual(
            p.spec.containers.map((c) => c.name),
            ['istio-proxy', p.metadata.labels?.app],
          );
          assert.match(p.metadata.annotations?.['sidecar.istio.io/status'] ?? '', /istio-proxy/);
          assert.equal(p.metadata.annotations?.[REDIRECTION], undefined, 'not handed to ztunnel');
        }
        const echo = ps.find((p) => p.metadata.labels?.app === 'echo')!;
        let last = { code: -1, out: '' };
        await waitFor(
          'legacy curl -> echo, sidecar to sidecar',
          async () => {
            last = await k.exec('legacy/curl', ['curl', '-sS', '-m', '5', 'http://echo:8080/']);
            return last.code === 0 && last.out.includes(`"servedBy": "${echo.metadata.name}"`);
          },
          30_000,
        ).catch((err: Error) => k.diagnose(new Error(`${err.message} (last: ${JSON.stringify(last)})`)));

        // istio-init loaded the capture rules into the pod's namespace (the proxy's uid let through).
        const rules = await k.exec('legacy/echo', ['nft', 'list', 'table', 'ip', 'istio_sidecar']);
        assert.match(rules.out, /redirect to :15006/);
        assert.match(rules.out, /skuid 1337/);
        // The sidecar runs as Istio's proxy uid 1337 in the pod's namespace.
        const cluster = JSON.parse(await readFile(join(k.stateDir, 'cluster.json'), 'utf8')) as {
          pods: Array<{ name: string; netns: string }>;
        };
        const netns = cluster.pods.find((p) => p.name === echo.metadata.name)!.netns;
        const pids = await new Promise<string>((res) =>
          execFile('ip', ['netns', 'pids', netns], (_e, out) => res(out)),
        );
        const uids: string[] = [];
        for (const pid of pids.split('\n').filter(Boolean)) {
          const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
          const st = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
          if (cmd.includes('sidecar/main.js')) uids.push(/^Uid:\s+(\d+)/m.exec(st)?.[1] ?? '?');
        }
        assert.deepEqual(uids, ['1337']);
        // Mutual TLS with both identities: the server's sidecar reports curl's SPIFFE id.
        const metrics = await k.exec('legacy/echo', [
          'curl',
          '-sS',
          '-m',
          '5',
          `http://${echo.status?.podIP}:15020/stats/prometheus`,
        ]);
        assert.match(
          metrics.out,
          /istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/legacy\/sa\/curl"[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/legacy\/sa\/echo"[^}]*response_code="200"[^}]*connection_security_policy="mutual_tls"/,
        );
        assert.match(
          await k.podLog(echo),
          /"role":"inbound".*"response_code":200.*"source_principal":"spiffe:\/\/cluster.local\/ns\/legacy\/sa\/curl"/,
        );
      },
    );

    await t.test('meshctl status: nodes, pods as ambient / sidecar / waypoint, the waypoint', async () => {
      const st = await meshctl(['status', ...k.base]);
      assert.equal(st.code, 0, st.out);
      assert.match(st.out, /node-1\s+10\.244\.255\.2\s+True/);
      assert.match(st.out, /node-2\s+10\.244\.255\.3\s+True/);
      assert.match(st.out, /shop\/curl-\S+\s.*\s1\/1\s+ambient\s/);
      assert.match(st.out, /shop\/web-v1-\S+\s.*\s1\/1\s+ambient\s/);
      assert.match(st.out, /legacy\/echo-\S+\s.*\s2\/2\s+sidecar\s/);
      assert.match(st.out, /shop\/waypoint-\S+\s.*\s1\/1\s+waypoint\s/);
      assert.match(st.out, /shop\/waypoint\s+10\.96\.\S+\s+True\s+1\/1\s+namespace shop/);
    });

    await t.test('meshctl down: no namespace of the cluster left', async () => {
      const down = await meshctl(['down', ...k.base]);
      assert.equal(down.code, 0, down.out);
      assert.deepEqual(
        (await listNetns()).filter((n) => n.name.startsWith(`${NAME}-`)),
        [],
      );
    });
  },
);
