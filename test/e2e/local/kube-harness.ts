/**
 * What the `meshctl up --kubernetes` e2e files share: whether the control plane can run (else the
 * reason to skip), a cluster for one test (started as its first subtest, so the file reports within
 * seconds; taken down after the test), kubectl against it, its pods as the API has them, a pod's
 * container log, and the mesh installed as a user installs it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { controlPlaneProblem } from '../../../src/kube/control-plane.js';
import { DIST_SRC } from '../../../src/local/cluster/cluster.js';
import { meshctl, skip as noCluster, waitFor } from './harness.js';

export const kubeSkip: false | string = noCluster || controlPlaneProblem() || false;
if (kubeSkip) console.log(`# skipping the Kubernetes e2e: ${kubeSkip}`);

const EXAMPLES = resolve(DIST_SRC, '../../deploy/examples');
export const DEMO = join(EXAMPLES, 'kubernetes-demo.yaml');
export const WAYPOINT = join(EXAMPLES, 'kubernetes-waypoint.yaml');
export const SIDECAR = join(EXAMPLES, 'kubernetes-sidecar.yaml');
export { REDIRECTION_ANNOTATION as REDIRECTION } from '../../../src/node-agent/enablement.js';
export const GATEWAY_NAME = 'gateway.networking.k8s.io/gateway-name';

export interface PodJson {
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

export const ready = (p: PodJson): boolean =>
  !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

export class KubeE2e {
  readonly kubeconfig: string;
  readonly env: NodeJS.ProcessEnv;
  readonly base: string[];

  private constructor(
    readonly name: string,
    readonly stateDir: string,
  ) {
    this.kubeconfig = join(stateDir, 'kubeconfig');
    this.env = { ...process.env, KUBECONFIG: this.kubeconfig };
    this.base = ['--state-dir', stateDir, '--name', name];
  }

  /** A state directory for the cluster `name`; the cluster is taken down and removed after the test. */
  static async create(t: TestContext, name: string): Promise<KubeE2e> {
    const k = new KubeE2e(name, await mkdtemp(join(tmpdir(), `ml-${name}-`)));
    t.after(async () => {
      await meshctl(['down', ...k.base]);
      await rm(k.stateDir, { recursive: true, force: true });
    });
    return k;
  }

  /** `meshctl up --kubernetes --detach` as its own subtest (the runner kills a file silent for 60 s). */
  async up(t: TestContext): Promise<void> {
    await t.test('the cluster comes up: nodes registered, kubeconfig printed', async () => {
      const up = await meshctl(['up', '--kubernetes', '--detach', ...this.base]);
      assert.equal(up.code, 0, up.out);
      assert.match(up.out, new RegExp(`export KUBECONFIG=${this.kubeconfig}`));
      const nodes = await this.kubectl('get', 'nodes', '--no-headers');
      assert.match(nodes, /node-1\s+Ready/);
      assert.match(nodes, /node-2\s+Ready/);
    });
  }

  /** `meshctl install --gateway-api-crds`, then `apply` runs, then waits for the mesh's 5 pods. */
  async install(apply: () => Promise<void>): Promise<void> {
    const inst = await meshctl(['install', '--gateway-api-crds'], this.env);
    assert.equal(inst.code, 0, inst.out);
    await apply();
    await waitFor(
      'istiod, 2 ztunnels and 2 node agents ready',
      async () => {
        const ps = await this.pods('istio-system');
        return ps.length === 5 && ps.every(ready);
      },
      // Under load the first start is slow: istiod's pod, then its Service endpoints, then ztunnel's xDS.
      150_000,
    ).catch((e: Error) => this.diagnose(e));
  }

  kubectl(...args: string[]): Promise<string> {
    return new Promise((res, rej) =>
      execFile('kubectl', args, { env: this.env }, (e, out, err) =>
        e ? rej(new Error(`kubectl ${args.join(' ')}: ${err || e.message}`)) : res(out),
      ),
    );
  }

  async pods(ns: string, selector?: string): Promise<PodJson[]> {
    const out = await this.kubectl(
      'get',
      'pods',
      '-n',
      ns,
      ...(selector ? ['-l', selector] : []),
      '-o',
      'json',
    );
    return (JSON.parse(out) as { items: PodJson[] }).items;
  }

  /** The pod's containers' output (the kubelet role writes it under the state directory). */
  podLog(p: PodJson): Promise<string> {
    return readFile(
      join(this.stateDir, 'kube', 'pods', p.metadata.uid, 'logs', 'containers.log'),
      'utf8',
    ).catch(() => '');
  }

  /** `meshctl exec NS/DEPLOYMENT -- ARGV` on this cluster. */
  exec(target: string, argv: string[]): Promise<{ code: number; out: string }> {
    return meshctl(['exec', ...this.base, target, '--', ...argv], this.env);
  }

  /** What a failure needs to be understood: the pods as the API sees them, the kubelet's last lines. */
  async diagnose(err: Error): Promise<never> {
    const podsNow = await this.kubectl('get', 'pods', '-A', '-o', 'wide').catch((e: Error) => e.message);
    const upLog = (await readFile(join(this.stateDir, 'up.log'), 'utf8').catch(() => ''))
      .split('\n')
      .slice(-30);
    throw new Error(`${err.message}\n${podsNow}\n${upLog.join('\n')}`);
  }
}
