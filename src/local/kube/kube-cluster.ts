/**
 * `meshctl up --kubernetes`: the network-namespace cluster driven by a real Kubernetes control plane.
 * The fabric and node namespaces are the file-driven cluster's (network.ts); the control plane (etcd,
 * kube-apiserver, controller manager, scheduler: src/kube/control-plane.ts) runs on the host bound to
 * the fabric's host address 10.244.255.1, which every node and pod reaches over the node network (and
 * the host itself, so kubectl works). This process plays each node's kubelet (kube-kubelet.ts),
 * kube-proxy and the cluster DNS (kube-proxy.ts); the mesh is then installed as on any cluster
 * (`meshctl install`), its istiod, ztunnels and node agents running as pods.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeControlPlane } from '../../kube/control-plane.js';
import { loadKubeConfig } from '../../istiod/config/kube-client.js';
import { cleanupCluster, DIST_SRC } from '../cluster/cluster.js';
import {
  addHostRoutes,
  createFabric,
  createNode,
  removeHostRoutes,
  teardownNetwork,
} from '../cluster/network.js';
import { writeClusterFile, type ClusterFile } from '../cluster/state.js';
import { HOST_IP, checkPrefix, nodeInfo, type NodeInfo } from '../cluster/topology.js';
import { KubeKubelet } from './kube-kubelet.js';
import { KubeProxy } from './kube-proxy.js';

export interface KubeClusterOptions {
  name: string;
  stateDir: string;
  nodes: number;
  progress: (msg: string) => void;
}

export class KubeCluster {
  readonly nodes: NodeInfo[] = [];
  controlPlane: KubeControlPlane | undefined;
  kubelet: KubeKubelet | undefined;
  private proxy: KubeProxy | undefined;
  private stopped = false;

  constructor(readonly o: KubeClusterOptions) {
    checkPrefix(o.name);
  }

  /** The admin kubeconfig users export (kubectl, meshctl install). */
  get kubeconfig(): string {
    return join(this.o.stateDir, 'kubeconfig');
  }

  async start(): Promise<void> {
    const p = this.o.progress;
    await cleanupCluster(this.o.name, this.o.stateDir, p);
    await rm(join(this.o.stateDir, 'kube'), { recursive: true, force: true });
    await mkdir(join(this.o.stateDir, 'kube'), { recursive: true });
    for (let i = 1; i <= this.o.nodes; i++) this.nodes.push(nodeInfo(this.o.name, i));
    p(`network: fabric bridge and ${this.nodes.length} node namespaces (10.244.255.0/24)`);
    await createFabric(this.o.name); // first: it refuses to start beside another running cluster
    await addHostRoutes([]);
    for (const n of this.nodes) await createNode(this.o.name, n, this.nodes);
    await addHostRoutes(this.nodes);
    p(`control plane: etcd, kube-apiserver (on ${HOST_IP}), controller manager, scheduler`);
    this.controlPlane = await KubeControlPlane.start({ bindAddress: HOST_IP });
    await copyFile(this.controlPlane.kubeconfigPath, this.kubeconfig);
    const kc = loadKubeConfig(this.kubeconfig);
    p(`control plane: ready at ${this.controlPlane.server}`);
    this.proxy = new KubeProxy(kc, this.nodes, HOST_IP, p);
    await this.proxy.start();
    p(`kube-proxy: Service rules in the nodes; cluster DNS on ${HOST_IP}:${this.proxy.dnsPort}`);
    this.kubelet = new KubeKubelet({
      kc,
      prefix: this.o.name,
      stateDir: this.o.stateDir,
      nodes: this.nodes,
      distSrc: DIST_SRC,
      progress: p,
    });
    this.kubelet.onChange = () => void this.writeClusterFile(true).catch(() => undefined);
    await this.kubelet.start();
    await this.writeClusterFile(true);
  }

  /** cluster.json: what `meshctl exec`, `status` and `down` read (pods and their namespaces). */
  async writeClusterFile(ready: boolean): Promise<void> {
    if (this.stopped) return;
    const pods = [...(this.kubelet?.pods.values() ?? [])].map((x) => ({
      namespace: x.namespace,
      name: x.name,
      node: x.node,
      netns: x.netns,
      ip: x.ip,
      hostLink: x.hostLink,
      ...(x.deployment ? { deployment: x.deployment } : {}),
      pids: x.runner?.pids ?? [],
      restarts: x.runner?.restarts ?? 0,
      labels: x.labels,
      created: x.created,
    }));
    const c: ClusterFile & { kubernetes: { kubeconfig: string; server: string; pids: number[] } } = {
      name: this.o.name,
      stateDir: this.o.stateDir,
      configDir: '',
      mode: 'capture',
      pid: process.pid,
      ready,
      istiod: {
        address: 'istiod.istio-system.svc:15010',
        monitoring: 'istiod.istio-system.svc:15014',
        restarts: 0,
      },
      nodes: this.nodes.map((n) => ({ ...n, ztunnel: { restarts: 0 }, ztunnelLog: '', admin: '' })),
      pods,
      services: [],
      kubernetes: {
        kubeconfig: this.kubeconfig,
        server: this.controlPlane?.server ?? '',
        pids: this.controlPlane?.pids ?? [],
      },
    };
    await writeClusterFile(this.o.stateDir, c);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const p = this.o.progress;
    p('stopping: pods, kube-proxy, control plane');
    await this.kubelet?.stop();
    await this.proxy?.stop();
    await this.controlPlane?.stop();
    await removeHostRoutes(this.o.name);
    for (const e of await teardownNetwork(this.o.name)) p(`cleanup: ${e}`);
    await rm(join(this.o.stateDir, 'cluster.json'), { force: true });
    await rm(this.kubeconfig, { force: true });
    await rm(join(this.o.stateDir, 'kube'), { recursive: true, force: true });
    p('cluster removed');
  }
}
