/**
 * `meshctl up --kubernetes` end to end: the network-namespace cluster driven by the real control plane
 * (built once by scripts/kube-control-plane.sh), the mesh installed as users install it (meshctl
 * install; istiod, ztunnel and node agent pods), apps deployed with kubectl. Cross-node HBONE with both
 * SPIFFE identities; deleting a pod, restarting the node agents and rolling the ztunnel DaemonSet
 * leave the mesh working; meshctl uninstall leaves nothing of the mesh.
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
const DEMO = resolve(DIST_SRC, '../../deploy/examples/kubernetes-demo.yaml');

interface PodJson {
  metadata: { name: string; namespace: string; uid: string; annotations?: Record<string, string> };
  spec: { nodeName?: string };
  status?: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}

test(
  'meshctl up --kubernetes: install, ambient HBONE across nodes, pod/agent/ztunnel restarts, uninstall',
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

    const inst = await meshctl(['install'], env);
    assert.equal(inst.code, 0, inst.out);
    await kubectl('apply', '-f', DEMO);
    await kubectl('label', 'namespace', 'demo', 'istio.io/dataplane-mode=ambient');
    await waitFor(
      'istiod, 2 ztunnels and 2 node agents ready',
      async () => {
        const ps = await pods('istio-system');
        return ps.length === 5 && ps.every(ready);
      },
      // Under load the first start is slow: istiod's pod, then its Service endpoints, then ztunnel's xDS.
      150_000,
    ).catch(diagnose);

    await meshWorks('first request');
    // Both identities, on both nodes: the client's ztunnel (node-1) sent as curl to echo, the server's
    // (node-2) accepted curl's identity over HBONE.
    const zts = await pods('istio-system', 'app=ztunnel');
    const zt = (node: string) => zts.find((p) => p.spec.nodeName === node)!;
    const out1 = await podLog(zt('node-1'));
    const in2 = await podLog(zt('node-2'));
    assert.match(
      out1,
      /"direction":"outbound".*"src_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/curl".*"dst_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/echo".*"path":"hbone"/,
    );
    assert.match(
      in2,
      /"direction":"inbound".*"src_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/curl".*"dst_identity":"spiffe:\/\/cluster.local\/ns\/demo\/sa\/echo".*"path":"hbone"/,
    );

    // A deleted pod is replaced by its Deployment and enrolled again.
    const [echo] = await pods('demo', 'app=echo');
    await kubectl('delete', 'pod', '-n', 'demo', echo!.metadata.name, '--wait=true');
    await waitFor('a new echo pod', async () =>
      (await pods('demo', 'app=echo')).some((p) => p.metadata.uid !== echo!.metadata.uid),
    );
    await meshWorks('after deleting the echo pod');

    // The node agents restart: the new ones find the pods' namespaces and send ztunnel their snapshot.
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
    assert.match(await podLog(newAgent), /"pods":1,.*"msg":"snapshot sent to ztunnel"/);
    await meshWorks('after restarting the node agents');

    // Rolling the ztunnel DaemonSet: each new ztunnel gets the node's pods from the agent.
    await kubectl('-n', 'istio-system', 'rollout', 'restart', 'daemonset/ztunnel');
    await kubectl('-n', 'istio-system', 'rollout', 'status', 'daemonset/ztunnel', '--timeout=120s');
    const rolled = await pods('istio-system', 'app=ztunnel');
    assert.ok(
      rolled.every((p) => !zts.some((z) => z.metadata.uid === p.metadata.uid)),
      'both ztunnels replaced',
    );
    await meshWorks('after rolling the ztunnels');

    // Uninstall: nothing of the mesh stays (namespace istio-system and the cluster-wide objects).
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
  },
);
