/**
 * `meshctl up --kubernetes` end to end: the network-namespace cluster driven by the real control plane
 * (built once by scripts/kube-control-plane.sh), the mesh installed as users install it (meshctl
 * install; istiod, ztunnel and node agent pods), apps deployed with kubectl. Cross-node HBONE with both
 * SPIFFE identities; deleting a pod, restarting the node agents and rolling the ztunnel DaemonSet
 * leave the mesh working; meshctl uninstall leaves nothing of the mesh. Waypoints, injected sidecars
 * and meshctl status: kubernetes-l7.test.ts. Each step is a subtest, so the file reports as it goes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listNetns } from '../../../src/local/netns/index.js';
import { meshctl, waitFor } from './harness.js';
import { DEMO, KubeE2e, REDIRECTION, kubeSkip, ready } from './kube-harness.js';

const NAME = 'k8s';

test(
  'meshctl up --kubernetes: install, ambient HBONE across nodes, pod/agent/ztunnel restarts, uninstall',
  { skip: kubeSkip, timeout: 280_000 },
  async (t) => {
    const k = await KubeE2e.create(t, NAME);
    /** The demo pods enrolled (annotated by the node agent) and a request through the mesh answered. */
    const meshWorks = async (what: string): Promise<void> => {
      await waitFor(
        `${what}: demo pods ready and enrolled`,
        async () => {
          const ps = await k.pods('demo');
          return (
            ps.length === 2 &&
            ps.every((p) => ready(p) && p.metadata.annotations?.[REDIRECTION] === 'enabled')
          );
        },
        60_000,
      ).catch((e: Error) => k.diagnose(e));
      let last = { code: -1, out: '' };
      await waitFor(
        `${what}: curl -> echo through the mesh`,
        async () => {
          last = await k.exec('demo/curl', ['curl', '-sS', '-m', '5', 'http://echo:8080/']);
          return last.code === 0 && /echo/i.test(last.out);
        },
        30_000,
      ).catch((e: Error) => k.diagnose(new Error(`${e.message} (last: ${JSON.stringify(last)})`)));
    };

    await k.up(t);

    await t.test('meshctl install: istiod, 2 ztunnels and 2 node agents ready', async () => {
      await k.install(async () => {
        await k.kubectl('apply', '-f', DEMO);
        await k.kubectl('label', 'namespace', 'demo', 'istio.io/dataplane-mode=ambient');
      });
    });

    await t.test('ambient: curl (node-1) -> echo (node-2) over HBONE with both identities', async () => {
      await meshWorks('first request');
      // Both identities, on both nodes: the client's ztunnel (node-1) sent as curl to echo, the server's
      // (node-2) accepted curl's identity over HBONE.
      const zts = await k.pods('istio-system', 'app=ztunnel');
      const zt = (node: string) => zts.find((p) => p.spec.nodeName === node)!;
      assert.match(
        await k.podLog(zt('node-1')),
        /"direction":"outbound".*"src_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/curl".*"dst_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/echo".*"path":"hbone"/,
      );
      assert.match(
        await k.podLog(zt('node-2')),
        /"direction":"inbound".*"src_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/curl".*"dst_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/echo".*"path":"hbone"/,
      );
    });

    await t.test('a deleted pod is replaced by its Deployment and enrolled again', async () => {
      const [echo] = await k.pods('demo', 'app=echo');
      await k.kubectl('delete', 'pod', '-n', 'demo', echo!.metadata.name, '--wait=true');
      await waitFor('a new echo pod', async () =>
        (await k.pods('demo', 'app=echo')).some((p) => p.metadata.uid !== echo!.metadata.uid),
      );
      await meshWorks('after deleting the echo pod');
    });

    await t.test('the node agents restart: the new ones send ztunnel their snapshot', async () => {
      const agents = await k.pods('istio-system', 'app=meshlite-node-agent');
      await k.kubectl('delete', 'pod', '-n', 'istio-system', '-l', 'app=meshlite-node-agent', '--wait=true');
      await waitFor(
        'two new node agents ready',
        async () => {
          const now = await k.pods('istio-system', 'app=meshlite-node-agent');
          return (
            now.length === 2 &&
            now.every((p) => ready(p) && !agents.some((a) => a.metadata.uid === p.metadata.uid))
          );
        },
        60_000,
      );
      const newAgent = (await k.pods('istio-system', 'app=meshlite-node-agent')).find(
        (p) => p.spec.nodeName === 'node-2',
      )!;
      assert.match(await k.podLog(newAgent), /"pods":1,.*"msg":"snapshot sent to ztunnel"/);
      await meshWorks('after restarting the node agents');
    });

    await t.test('rolling the ztunnel DaemonSet: each new ztunnel gets its node pods', async () => {
      const zts = await k.pods('istio-system', 'app=ztunnel');
      await k.kubectl('-n', 'istio-system', 'rollout', 'restart', 'daemonset/ztunnel');
      await k.kubectl('-n', 'istio-system', 'rollout', 'status', 'daemonset/ztunnel', '--timeout=120s');
      const rolled = await k.pods('istio-system', 'app=ztunnel');
      assert.ok(
        rolled.every((p) => !zts.some((z) => z.metadata.uid === p.metadata.uid)),
        'both ztunnels replaced',
      );
      await meshWorks('after rolling the ztunnels');
    });

    await t.test('meshctl uninstall leaves nothing of the mesh; meshctl down no namespace', async () => {
      const un = await meshctl(['uninstall'], k.env);
      assert.equal(un.code, 0, un.out);
      assert.equal(
        (await k.kubectl('get', 'namespaces', '-o', 'name')).includes('namespace/istio-system'),
        false,
      );
      for (const kind of ['clusterroles', 'clusterrolebindings'])
        assert.equal(
          (await k.kubectl('get', kind, '-l', 'app.kubernetes.io/part-of=meshlite', '-o', 'name')).trim(),
          '',
          kind,
        );
      await waitFor('the mesh pods gone from the nodes', async () => {
        const ns = await listNetns();
        return !ns.some((n) => n.name.startsWith(`${NAME}-`) && n.name.includes('-istio-system-'));
      });
      const down = await meshctl(['down', ...k.base]);
      assert.equal(down.code, 0, down.out);
      assert.deepEqual(
        (await listNetns()).filter((n) => n.name.startsWith(`${NAME}-`)),
        [],
      );
    });
  },
);
