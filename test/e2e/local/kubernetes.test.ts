/**
 * `meshctl up --kubernetes` end to end: the network-namespace cluster driven by the real control plane
 * (built once by scripts/kube-control-plane.sh), the mesh installed as users install it (meshctl
 * install; istiod, ztunnel and node agent pods), apps deployed with kubectl. Cross-node HBONE with both
 * SPIFFE identities; a waypoint Gateway gets its pod from istiod's controller and an HTTPRoute applied
 * with kubectl routes through it; pods of an `istio-injection=enabled` namespace get their sidecar from
 * the webhook the API server calls and talk with mutual TLS; meshctl status tells them apart; deleting
 * a pod, restarting the node agents and rolling the ztunnel DaemonSet leave the mesh working; meshctl
 * uninstall leaves nothing of the mesh. Each step is a subtest, so the file reports as it goes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { controlPlaneProblem } from '../../../src/kube/control-plane.js';
import { DIST_SRC } from '../../../src/local/cluster/cluster.js';
import { listNetns } from '../../../src/local/netns/index.js';
import { meshctl, skip as noCluster, waitFor } from './harness.js';

const problem = noCluster || controlPlaneProblem();
if (problem) console.log(`# skipping the Kubernetes e2e: ${problem}`);

const NAME = 'k8s';
const EXAMPLES = resolve(DIST_SRC, '../../deploy/examples');
const DEMO = join(EXAMPLES, 'kubernetes-demo.yaml');
const WAYPOINT = join(EXAMPLES, 'kubernetes-waypoint.yaml');
const SIDECAR = join(EXAMPLES, 'kubernetes-sidecar.yaml');

interface PodJson {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    nodeName?: string;
    containers: Array<{ name: string }>;
    initContainers?: Array<{ name: string }>;
  };
  status?: { phase?: string; podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

const REDIRECTION = 'ambient.istio.io/redirection';
const GATEWAY_NAME = 'gateway.networking.k8s.io/gateway-name';

test(
  'meshctl up --kubernetes: install, ambient HBONE, waypoint, injected sidecars, status, restarts, uninstall',
  { skip: problem, timeout: 280_000 },
  async (t) => {
    const stateDir = await mkdtemp(join(tmpdir(), 'ml-k8s-'));
    const kubeconfig = join(stateDir, 'kubeconfig');
    const env = { ...process.env, KUBECONFIG: kubeconfig };
    const base = ['--state-dir', stateDir, '--name', NAME];
    const kubectl = (...args: string[]): Promise<string> =>
      new Promise((res, rej) =>
        execFile('kubectl', args, { env }, (e, out, err) =>
          e ? rej(new Error(`kubectl ${args.join(' ')}: ${err || e.message}`)) : res(out),
        ),
      );
    const pods = async (ns: string, selector?: string): Promise<PodJson[]> =>
      (
        JSON.parse(
          await kubectl('get', 'pods', '-n', ns, ...(selector ? ['-l', selector] : []), '-o', 'json'),
        ) as { items: PodJson[] }
      ).items;
    const ready = (p: PodJson): boolean =>
      !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const podLog = (p: PodJson): Promise<string> =>
      readFile(join(stateDir, 'kube', 'pods', p.metadata.uid, 'logs', 'containers.log'), 'utf8').catch(
        () => '',
      );
    const curl = async (): Promise<{ code: number; out: string }> =>
      meshctl(['exec', ...base, 'demo/curl', '--', 'curl', '-sS', '-m', '5', 'http://echo:8080/'], env);
    /** The demo pods enrolled (annotated by the node agent) and a request through the mesh answered. */
    const meshWorks = async (what: string): Promise<void> => {
      await waitFor(
        `${what}: demo pods ready and enrolled`,
        async () => {
          const ps = await pods('demo');
          return (
            ps.length === 2 &&
            ps.every(
              (p) => ready(p) && p.metadata.annotations?.['ambient.istio.io/redirection'] === 'enabled',
            )
          );
        },
        60_000,
      ).catch(diagnose);
      let last = { code: -1, out: '' };
      await waitFor(
        `${what}: curl -> echo through the mesh (last: ${JSON.stringify(last)})`,
        async () => {
          last = await curl();
          return last.code === 0 && /echo/i.test(last.out);
        },
        30_000,
      );
    };
    /** What a failure needs to be understood: the pods as the API sees them, the kubelet's last lines. */
    const diagnose = async (err: Error): Promise<never> => {
      const podsNow = await kubectl('get', 'pods', '-A', '-o', 'wide').catch((e: Error) => e.message);
      const upLog = (await readFile(join(stateDir, 'up.log'), 'utf8').catch(() => '')).split('\n').slice(-30);
      throw new Error(`${err.message}\n${podsNow}\n${upLog.join('\n')}`);
    };
    t.after(async () => {
      await meshctl(['down', ...base]);
      await rm(stateDir, { recursive: true, force: true });
    });

    // Its own subtest, so the file reports within seconds of the cluster being up (the test runner
    // treats a file silent for 60 s as hung and kills it, which would leave the detached cluster).
    await t.test('the cluster comes up: nodes registered, kubeconfig printed', async () => {
      const up = await meshctl(['up', '--kubernetes', '--detach', ...base]);
      assert.equal(up.code, 0, up.out);
      assert.match(up.out, new RegExp(`export KUBECONFIG=${kubeconfig}`));
      const nodes = await kubectl('get', 'nodes', '--no-headers');
      assert.match(nodes, /node-1\s+Ready/);
      assert.match(nodes, /node-2\s+Ready/);
    });

    await t.test('meshctl install: istiod, 2 ztunnels and 2 node agents ready', async () => {
      const inst = await meshctl(['install', '--gateway-api-crds'], env);
      assert.equal(inst.code, 0, inst.out);
      await kubectl('apply', '-f', DEMO);
      await kubectl('label', 'namespace', 'demo', 'istio.io/dataplane-mode=ambient');
      // The waypoint's namespace (ambient, istio.io/use-waypoint), its Gateway, apps and HTTPRoute: their
      // pods start while the mesh does.
      await kubectl('apply', '-f', WAYPOINT);
      await waitFor(
        'istiod, 2 ztunnels and 2 node agents ready',
        async () => {
          const ps = await pods('istio-system');
          return ps.length === 5 && ps.every(ready);
        },
        // Under load the first start is slow: istiod's pod, then its Service endpoints, then ztunnel's xDS.
        150_000,
      ).catch(diagnose);
      // The injected namespace once istiod (its webhook) runs: its pods start during the next steps.
      await kubectl('apply', '-f', SIDECAR);
    });

    await t.test('ambient: curl (node-1) -> echo (node-2) over HBONE with both identities', async () => {
      await meshWorks('first request');
      // Both identities, on both nodes: the client's ztunnel (node-1) sent as curl to echo, the server's
      // (node-2) accepted curl's identity over HBONE.
      const zts = await pods('istio-system', 'app=ztunnel');
      const zt = (node: string) => zts.find((p) => p.spec.nodeName === node)!;
      assert.match(
        await podLog(zt('node-1')),
        /"direction":"outbound".*"src_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/curl".*"dst_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/echo".*"path":"hbone"/,
      );
      assert.match(
        await podLog(zt('node-2')),
        /"direction":"inbound".*"src_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/curl".*"dst_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/echo".*"path":"hbone"/,
      );
    });

    /** curl in shop -> web (through the namespace's waypoint): the pod that answered. */
    const shopCurl = async (headers: string[] = []): Promise<string> => {
      const r = await meshctl(
        ['exec', ...base, 'shop/curl', '--', 'curl', '-sS', '-m', '5', ...headers, 'http://web:8080/'],
        env,
      );
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
      ).catch((err: Error) => diagnose(new Error(`${err.message} (last answer: ${last})`)));
    };

    await t.test(
      'waypoint: istiod makes the Deployment of a Gateway, its pod runs, an HTTPRoute routes through it',
      async () => {
        await waitFor(
          'the waypoint pod ready and the shop apps enrolled',
          async () => {
            const ps = await pods('shop');
            const apps = ps.filter((p) => !p.metadata.labels?.[GATEWAY_NAME]);
            return (
              ps.length === 4 &&
              ps.every(ready) &&
              apps.every((p) => p.metadata.annotations?.[REDIRECTION] === 'enabled')
            );
          },
          90_000,
        ).catch(diagnose);
        const dep = JSON.parse(
          await kubectl('get', 'deployment', '-n', 'shop', 'waypoint', '-o', 'json'),
        ) as {
          metadata: { ownerReferences?: Array<{ kind: string; name: string }> };
        };
        assert.deepEqual(
          dep.metadata.ownerReferences?.map((o) => `${o.kind}/${o.name}`),
          ['Gateway/waypoint'],
        );
        const gw = JSON.parse(await kubectl('get', 'gateway', '-n', 'shop', 'waypoint', '-o', 'json')) as {
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
        const [wp] = await pods('shop', `${GATEWAY_NAME}=waypoint`);
        const zt1 = (await pods('istio-system', 'app=ztunnel')).find((p) => p.spec.nodeName === 'node-1')!;
        assert.match(
          await podLog(zt1),
          /"direction":"outbound".*"src_identity":"spiffe:\/\/cluster.local\/ns\/shop\/sa\/curl".*"dst_identity":"spiffe:\/\/cluster.local\/ns\/shop\/sa\/waypoint"/,
        );
        assert.match(
          await podLog(wp!),
          /"part":"access".*"response_code":200.*"upstream_cluster":"[^"]*web-v2\.shop\.svc\.cluster\.local"/,
        );

        // A changed route applied with kubectl takes effect: everyone to v2.
        await kubectl(
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
            const ps = await pods('legacy');
            return ps.length === 2 && ps.every(ready);
          },
          90_000,
        ).catch(diagnose);
        const ps = await pods('legacy');
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
            last = await meshctl(
              ['exec', ...base, 'legacy/curl', '--', 'curl', '-sS', '-m', '5', 'http://echo:8080/'],
              env,
            );
            return last.code === 0 && last.out.includes(`"servedBy": "${echo.metadata.name}"`);
          },
          30_000,
        ).catch((err: Error) => diagnose(new Error(`${err.message} (last: ${JSON.stringify(last)})`)));

        // istio-init loaded the capture rules into the pod's namespace (the proxy's uid let through).
        const rules = await meshctl(
          ['exec', ...base, 'legacy/echo', '--', 'nft', 'list', 'table', 'ip', 'istio_sidecar'],
          env,
        );
        assert.match(rules.out, /redirect to :15006/);
        assert.match(rules.out, /skuid 1337/);
        // The sidecar runs as Istio's proxy uid 1337 in the pod's namespace.
        const cluster = JSON.parse(await readFile(join(stateDir, 'cluster.json'), 'utf8')) as {
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
        const metrics = await meshctl(
          [
            'exec',
            ...base,
            'legacy/echo',
            '--',
            'curl',
            '-sS',
            '-m',
            '5',
            `http://${echo.status?.podIP}:15020/stats/prometheus`,
          ],
          env,
        );
        assert.match(
          metrics.out,
          /istio_requests_total\{reporter="destination",[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/legacy\/sa\/curl"[^}]*destination_principal="spiffe:\/\/cluster\.local\/ns\/legacy\/sa\/echo"[^}]*response_code="200"[^}]*connection_security_policy="mutual_tls"/,
        );
        assert.match(
          await podLog(echo),
          /"role":"inbound".*"response_code":200.*"source_principal":"spiffe:\/\/cluster.local\/ns\/legacy\/sa\/curl"/,
        );
      },
    );

    await t.test('meshctl status: nodes, pods as ambient / sidecar / waypoint, the waypoint', async () => {
      const st = await meshctl(['status', ...base]);
      assert.equal(st.code, 0, st.out);
      assert.match(st.out, /node-1\s+10\.244\.255\.2\s+True/);
      assert.match(st.out, /node-2\s+10\.244\.255\.3\s+True/);
      assert.match(st.out, /demo\/curl-\S+\s.*\s1\/1\s+ambient\s/);
      assert.match(st.out, /shop\/web-v1-\S+\s.*\s1\/1\s+ambient\s/);
      assert.match(st.out, /legacy\/echo-\S+\s.*\s2\/2\s+sidecar\s/);
      assert.match(st.out, /shop\/waypoint-\S+\s.*\s1\/1\s+waypoint\s/);
      assert.match(st.out, /shop\/waypoint\s+10\.96\.\S+\s+True\s+1\/1\s+namespace shop/);
    });

    await t.test('a deleted pod is replaced by its Deployment and enrolled again', async () => {
      const [echo] = await pods('demo', 'app=echo');
      await kubectl('delete', 'pod', '-n', 'demo', echo!.metadata.name, '--wait=true');
      await waitFor('a new echo pod', async () =>
        (await pods('demo', 'app=echo')).some((p) => p.metadata.uid !== echo!.metadata.uid),
      );
      await meshWorks('after deleting the echo pod');
    });

    await t.test('the node agents restart: the new ones send ztunnel their snapshot', async () => {
      const agents = await pods('istio-system', 'app=meshlite-node-agent');
      await kubectl('delete', 'pod', '-n', 'istio-system', '-l', 'app=meshlite-node-agent', '--wait=true');
      await waitFor(
        'two new node agents ready',
        async () => {
          const now = await pods('istio-system', 'app=meshlite-node-agent');
          return (
            now.length === 2 &&
            now.every((p) => ready(p) && !agents.some((a) => a.metadata.uid === p.metadata.uid))
          );
        },
        60_000,
      );
      const newAgent = (await pods('istio-system', 'app=meshlite-node-agent')).find(
        (p) => p.spec.nodeName === 'node-2',
      )!;
      // node-2 holds demo's echo and shop's web-v1 and web-v2.
      assert.match(await podLog(newAgent), /"pods":3,.*"msg":"snapshot sent to ztunnel"/);
      await meshWorks('after restarting the node agents');
    });

    await t.test('rolling the ztunnel DaemonSet: each new ztunnel gets its node pods', async () => {
      const zts = await pods('istio-system', 'app=ztunnel');
      await kubectl('-n', 'istio-system', 'rollout', 'restart', 'daemonset/ztunnel');
      await kubectl('-n', 'istio-system', 'rollout', 'status', 'daemonset/ztunnel', '--timeout=120s');
      const rolled = await pods('istio-system', 'app=ztunnel');
      assert.ok(
        rolled.every((p) => !zts.some((z) => z.metadata.uid === p.metadata.uid)),
        'both ztunnels replaced',
      );
      await meshWorks('after rolling the ztunnels');
      await servedBy('after rolling the ztunnels: through the waypoint', jason, /^web-v2-/);
    });

    await t.test('meshctl uninstall leaves nothing of the mesh; meshctl down no namespace', async () => {
      const un = await meshctl(['uninstall'], env);
      assert.equal(un.code, 0, un.out);
      assert.equal(
        (await kubectl('get', 'namespaces', '-o', 'name')).includes('namespace/istio-system'),
        false,
      );
      for (const kind of ['clusterroles', 'clusterrolebindings'])
        assert.equal(
          (await kubectl('get', kind, '-l', 'app.kubernetes.io/part-of=meshlite', '-o', 'name')).trim(),
          '',
          kind,
        );
      await waitFor('the mesh pods gone from the nodes', async () => {
        const ns = await listNetns();
        return !ns.some((n) => n.name.startsWith(`${NAME}-`) && n.name.includes('-istio-system-'));
      });

      const down = await meshctl(['down', ...base]);
      assert.equal(down.code, 0, down.out);
      assert.deepEqual(
        (await listNetns()).filter((n) => n.name.startsWith(`${NAME}-`)),
        [],
      );
    });
  },
);
