/**
 * A local cluster on one machine (root): istiod on the host, one ztunnel per node namespace in
 * capture mode, pods as namespaces with their containers, the node agent handing pods to ztunnel.
 */
import net from 'node:net';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { addNodeToken } from '../../istiod/ca/local-tokens.js';
import {
  assignClusterIps,
  podsOf,
  readObjects,
  selects,
  servicesOf,
  type PodSpecIn,
  type ServiceIn,
} from './manifests.js';
import {
  applyNodeRules,
  createFabric,
  createNode,
  createPod,
  nodeRuleset,
  teardownNetwork,
} from './network.js';
import { Proc } from './proc.js';
import { PodRunner } from './kubelet.js';
import {
  HOST_IP,
  checkPrefix,
  nodeInfo,
  podAddress,
  podNetns,
  type NodeInfo,
  type PodInfo,
} from './topology.js';
import { readClusterFile, writeClusterFile, type ClusterFile } from './state.js';
import { deleteNetns } from '../netns/index.js';

/** Marks the Pod objects the cluster writes for a Deployment's replicas (status, not specs). */
export const DEPLOYMENT_ANNOTATION = 'meshlite.io/deployment';

function annotationOf(o: { metadata?: unknown }, key: string): string | undefined {
  const ann = (o.metadata as { annotations?: Record<string, unknown> } | undefined)?.annotations;
  const v = ann?.[key];
  return typeof v === 'string' ? v : undefined;
}

export const DIST_SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ClusterOptions {
  name: string;
  stateDir: string;
  nodes: number;
  configDir: string;
  progress: (msg: string) => void;
  logLevel?: string;
}

interface RunningPod extends PodInfo {
  spec: PodSpecIn;
  runner: PodRunner;
}

export class LocalCluster {
  readonly nodes: NodeInfo[] = [];
  readonly pods: RunningPod[] = [];
  services: ServiceIn[] = [];
  istiod: Proc | undefined;
  readonly ztunnels = new Map<string, Proc>();
  private readonly agents = new Map<string, net.Socket>();
  private watchTimer: NodeJS.Timeout | undefined;
  private syncing = false;
  private stopped = false;
  private nextNode = 0;

  constructor(readonly o: ClusterOptions) {
    checkPrefix(o.name);
  }

  get dirs(): { config: string; logs: string; ca: string } {
    return {
      config: join(this.o.stateDir, 'config'),
      logs: join(this.o.stateDir, 'logs'),
      ca: join(this.o.stateDir, 'ca'),
    };
  }

  async start(): Promise<void> {
    const p = this.o.progress;
    await cleanupCluster(this.o.name, this.o.stateDir, p);
    for (const d of Object.values(this.dirs)) await mkdir(d, { recursive: true });
    // 1. Objects: copied into istiod's config directory; Services get VIPs.
    const objs = (await readObjects(this.o.configDir)).map((x) => x.obj);
    assignClusterIps(objs);
    for (const o of objs) await writeObject(this.dirs.config, o);
    this.services = servicesOf(objs);
    for (let i = 1; i <= this.o.nodes; i++) this.nodes.push(nodeInfo(this.o.name, i));
    const specs = podsOf(objs);
    // 2. Network.
    p(`network: fabric bridge and ${this.nodes.length} node namespaces (10.244.255.0/24)`);
    await createFabric(this.o.name);
    for (const n of this.nodes) await createNode(this.o.name, n, this.nodes);
    for (const spec of specs) await this.addPod(spec, false);
    await this.writePodStatus();
    // 3. istiod on the host side of the node network, with its CA and one token per node.
    const tokens = join(this.o.stateDir, 'node-tokens.json');
    await rm(tokens, { force: true });
    const ztId = { trustDomain: 'cluster.local', namespace: 'istio-system', serviceAccount: 'ztunnel' };
    for (const n of this.nodes) {
      await writeFile(
        join(this.o.stateDir, `${n.name}.token`),
        await addNodeToken(tokens, { node: n.name, identity: ztId }),
        { mode: 0o600 },
      );
    }
    const lvl = this.o.logLevel ?? 'info';
    this.istiod = new Proc(
      'istiod',
      process.execPath,
      [
        join(DIST_SRC, 'istiod/main.js'),
        '--config-dir',
        this.dirs.config,
        '--xds-address',
        `${HOST_IP}:15010`,
        '--secure-xds-address',
        `${HOST_IP}:15012`,
        '--monitoring-address',
        `${HOST_IP}:15014`,
        '--ca-dir',
        this.dirs.ca,
        '--node-token-file',
        tokens,
        '--log-level',
        lvl,
      ],
      join(this.dirs.logs, 'istiod.log'),
    );
    await this.istiod.waitFor((l) => l.msg === 'istiod started', 'istiod start');
    p(`istiod: xDS and CA on ${HOST_IP}:15010`);
    // 4. One ztunnel per node, in the node's namespace, capture mode.
    for (const n of this.nodes) {
      const sock = join(this.o.stateDir, `${n.name}.capture.sock`);
      const zt = new Proc(
        `ztunnel ${n.name}`,
        'ip',
        [
          'netns',
          'exec',
          n.netns,
          process.execPath,
          join(DIST_SRC, 'ztunnel/main.js'),
          '--mode',
          'capture',
          '--capture-socket',
          sock,
          '--node-name',
          n.name,
          '--node-ip',
          n.ip,
          // Admin on the node IP, so meshctl ztunnel-config on the host can reach it over the fabric.
          '--admin-address',
          n.ip,
          '--xds-address',
          `${HOST_IP}:15010`,
          // Bootstrap the ztunnel's own certificate on 15010 with the node token, then xDS over mTLS.
          '--secure-xds-address',
          `${HOST_IP}:15012`,
          '--token-file',
          join(this.o.stateDir, `${n.name}.token`),
          '--log-level',
          lvl,
        ],
        join(this.dirs.logs, `ztunnel-${n.name}.log`),
      );
      this.ztunnels.set(n.name, zt);
    }
    for (const n of this.nodes) {
      await this.ztunnels.get(n.name)!.waitFor((l) => l.msg === 'ztunnel started', 'ztunnel start');
      await this.handOver(n);
      await this.ztunnels.get(n.name)!.waitFor((l) => l.msg === 'first state sync done', 'first xDS sync');
      await applyNodeRules(
        n,
        nodeRuleset(n, this.services, (s) => this.endpointsOf(s), 15053),
      );
      p(`ztunnel ${n.name}: synced with istiod; node rules (DNS, Service VIPs) in place`);
    }
    // 5. Containers.
    for (const pod of this.pods) pod.runner.start();
    await this.writeClusterFile(false);
  }

  /**
   * Creates a pod: its network namespace and veth on a node (the one it names, else round robin),
   * runs its containers, and (once the cluster runs) hands it to the node's ztunnel.
   */
  private async addPod(s: PodSpecIn, running: boolean): Promise<void> {
    const node =
      this.nodes.find((n) => n.name === s.nodeName) ?? this.nodes[this.nextNode++ % this.nodes.length]!;
    const used = new Set(
      this.pods.filter((x) => x.node === node.name).map((x) => Number(x.hostLink.slice(1))),
    );
    let slot = 2;
    while (used.has(slot)) slot++;
    const info: PodInfo = {
      namespace: s.namespace,
      name: s.name,
      node: node.name,
      netns: podNetns(this.o.name, node, s.namespace, s.name),
      ip: podAddress(node, slot),
      hostLink: `p${slot}`,
    };
    if (s.deployment) info.deployment = s.deployment;
    await createPod(info, node);
    const vars = { MESHLITE_DIST: DIST_SRC, POD_NAME: s.name, POD_NAMESPACE: s.namespace, POD_IP: info.ip };
    const runner = new PodRunner(
      info.netns,
      s.containers,
      join(this.dirs.logs, `pod-${s.namespace}-${s.name}.log`),
      vars,
    );
    this.pods.push({ ...info, spec: s, runner });
    this.o.progress(`pod ${s.namespace}/${s.name}: ${info.ip} on ${node.name}`);
    if (running) {
      runner.start();
      this.agents
        .get(node.name)
        ?.write(
          `${JSON.stringify({ type: 'add', namespace: s.namespace, name: s.name, netns: `/run/netns/${info.netns}`, healthSource: node.podGateway })}\n`,
        );
    }
  }

  private async removePod(p: RunningPod): Promise<void> {
    this.pods.splice(this.pods.indexOf(p), 1);
    this.agents
      .get(p.node)
      ?.write(`${JSON.stringify({ type: 'del', namespace: p.namespace, name: p.name })}\n`);
    await p.runner.stop();
    await deleteNetns(p.netns, { ignoreMissing: true });
    await rm(`/etc/netns/${p.netns}`, { recursive: true, force: true });
    await rm(join(this.dirs.config, `pod-${p.namespace}-${p.name}.yaml`), { force: true });
    this.o.progress(`pod ${p.namespace}/${p.name}: removed`);
  }

  /**
   * The kubelet loop: every second, Pods, Deployments and Services in the configuration directory are
   * compared with what runs — new pods are created and enrolled, removed ones torn down, Service VIP
   * rules refreshed — so `meshctl apply`/`delete` on a running cluster take effect.
   */
  watch(intervalMs = 1000): void {
    this.watchTimer = setInterval(() => {
      if (this.stopped || this.syncing) return;
      this.syncing = true;
      this.syncObjects()
        .catch((err: unknown) =>
          this.o.progress(`kubelet: ${err instanceof Error ? err.message : String(err)}`),
        )
        .finally(() => (this.syncing = false));
    }, intervalMs);
    this.watchTimer.unref();
  }

  private async syncObjects(): Promise<void> {
    const all = (await readObjects(this.dirs.config)).map((x) => x.obj);
    // Pods the cluster wrote for Deployments are their status, not specs.
    const objs = all.filter((o) => !(o.kind === 'Pod' && annotationOf(o, DEPLOYMENT_ANNOTATION)));
    const before = new Map(objs.filter((o) => o.kind === 'Service').map((o) => [o, JSON.stringify(o.spec)]));
    assignClusterIps(objs);
    for (const [svc, spec] of before)
      if (JSON.stringify(svc.spec) !== spec) await writeObject(this.dirs.config, svc);
    const want = new Map(podsOf(objs).map((s) => [`${s.namespace}/${s.name}`, s]));
    let changed = false;
    for (const p of [...this.pods]) {
      if (!want.has(`${p.namespace}/${p.name}`)) {
        await this.removePod(p);
        changed = true;
      }
    }
    const have = new Set(this.pods.map((p) => `${p.namespace}/${p.name}`));
    for (const [key, s] of want) {
      if (!have.has(key)) {
        await this.addPod(s, true);
        changed = true;
      }
    }
    const services = servicesOf(objs);
    if (!changed && JSON.stringify(services) === JSON.stringify(this.services)) return;
    this.services = services;
    for (const n of this.nodes)
      await applyNodeRules(
        n,
        nodeRuleset(n, this.services, (x) => this.endpointsOf(x), 15053),
      );
    if (changed) await this.writePodStatus();
    await this.writeClusterFile(true);
  }

  endpointsOf(s: ServiceIn): string[] {
    return this.pods
      .filter((p) => p.namespace === s.namespace && selects(s.selector, p.spec.labels))
      .map((p) => p.ip);
  }

  /** The node agent: every pod of the node with its namespace, then snapshot-done. */
  private async handOver(n: NodeInfo): Promise<void> {
    const sock = join(this.o.stateDir, `${n.name}.capture.sock`);
    const conn = net.connect(sock);
    conn.on('error', (err) => this.o.progress(`node agent ${n.name}: ${err.message}`));
    await new Promise<void>((r, j) => {
      conn.once('connect', () => r());
      conn.once('error', j);
    });
    conn.resume();
    this.agents.set(n.name, conn);
    for (const pod of this.pods.filter((x) => x.node === n.name)) {
      conn.write(
        `${JSON.stringify({ type: 'add', namespace: pod.namespace, name: pod.name, netns: `/run/netns/${pod.netns}`, healthSource: n.podGateway })}\n`,
      );
    }
    conn.write('{"type":"snapshot-done"}\n');
  }

  private async writePodStatus(): Promise<void> {
    const docs = this.pods.map((p) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: p.name,
        namespace: p.namespace,
        labels: p.spec.labels,
        uid: `${this.o.name}-${p.namespace}-${p.name}`,
        ...(p.deployment ? { annotations: { [DEPLOYMENT_ANNOTATION]: p.deployment } } : {}),
      },
      spec: {
        nodeName: p.node,
        serviceAccountName: p.spec.serviceAccountName,
        containers: p.spec.containers.map((c) => ({
          name: c.name,
          image: c.name,
          ports: c.ports.map((x) => ({ containerPort: x })),
        })),
      },
      status: {
        podIP: p.ip,
        hostIP: this.nodes.find((n) => n.name === p.node)?.ip,
        phase: 'Running',
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    }));
    for (const d of docs) await writeObject(this.dirs.config, d);
  }

  async writeClusterFile(ready: boolean): Promise<void> {
    const c: ClusterFile = {
      name: this.o.name,
      stateDir: this.o.stateDir,
      mode: 'capture',
      pid: process.pid,
      ready,
      istiod: {
        address: `${HOST_IP}:15010`,
        ...(this.istiod?.child.pid ? { pid: this.istiod.child.pid } : {}),
      },
      nodes: this.nodes.map((n) => {
        const pid = this.ztunnels.get(n.name)?.child.pid;
        return {
          ...n,
          ztunnelLog: join(this.dirs.logs, `ztunnel-${n.name}.log`),
          ...(pid ? { ztunnelPid: pid } : {}),
        };
      }),
      pods: this.pods.map(({ spec, runner, ...info }) => ({
        ...info,
        pids: runner.pids,
        restarts: runner.restarts,
        labels: spec.labels,
      })),
      services: this.services,
    };
    await writeClusterFile(this.o.stateDir, c);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const p = this.o.progress;
    p('stopping: pods, ztunnels, istiod');
    if (this.watchTimer) clearInterval(this.watchTimer);
    for (const a of this.agents.values()) a.destroy();
    await Promise.all(this.pods.map((x) => x.runner.stop()));
    await Promise.all([...this.ztunnels.values()].map((z) => z.stop()));
    await this.istiod?.stop();
    const errors = await teardownNetwork(this.o.name);
    for (const e of errors) p(`cleanup: ${e}`);
    await rm(join(this.o.stateDir, 'cluster.json'), { force: true });
    p('cluster removed');
  }
}

/** Removes what a previous run (crashed or detached) left: its processes, namespaces, links, files. */
export async function cleanupCluster(
  name: string,
  stateDir: string,
  progress: (m: string) => void,
): Promise<void> {
  const old = await readClusterFile(stateDir);
  if (old) {
    const pids = [
      old.pid,
      old.istiod.pid,
      ...old.nodes.map((n) => n.ztunnelPid),
      ...old.pods.flatMap((x) => x.pids),
    ];
    for (const pid of pids) {
      if (!pid || pid === process.pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
        progress(`cleanup: killed leftover process ${pid}`);
      } catch {
        /* already gone */
      }
    }
  }
  const errors = await teardownNetwork(name);
  for (const e of errors) progress(`cleanup: ${e}`);
  await rm(join(stateDir, 'cluster.json'), { force: true });
}

export async function copyDemo(from: string, to: string, files: string[]): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const f of files) await copyFile(join(from, f), join(to, f));
}

/** One object per file, named as `meshctl apply` names them (so `meshctl label` can edit them). */
async function writeObject(dir: string, o: Record<string, unknown>): Promise<void> {
  const meta = (o.metadata ?? {}) as { name?: string; namespace?: string };
  const kind = String(o.kind ?? 'object').toLowerCase();
  const file = `${kind}-${meta.namespace ? `${meta.namespace}-` : ''}${meta.name ?? 'unnamed'}.yaml`;
  await writeFile(join(dir, file), stringify(o));
}
