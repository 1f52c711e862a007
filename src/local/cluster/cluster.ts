/**
 * A local cluster on one machine (root): istiod on the host, one ztunnel per node namespace in
 * capture mode, pods as namespaces with their containers, the node agent handing pods to ztunnel.
 */
import { fileStem } from '../../istiod/config/kinds.js';
import net from 'node:net';
import { copyFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { addNodeToken, removeNodeToken } from '../../istiod/ca/local-tokens.js';
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
  addHostRoutes,
  removeHostRoutes,
  POD_RANGE,
  SERVICE_RANGE,
  applyNodeRules,
  createFabric,
  createNode,
  createPod,
  nodeRuleset,
  teardownNetwork,
} from './network.js';
import { Proc, Supervised } from './proc.js';
import { ZTUNNEL_NODE_FLAGS } from '../../ztunnel/node-flags.js';
import { PodRunner } from './kubelet.js';
import { WaypointController } from './waypoint-controller.js';
import { GatewayController } from './gateway-controller.js';
import { inject, wantsSidecar } from './injection.js';
import { captureFromAnnotations, sidecarRuleset } from '../../sidecar/rules.js';
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
import { applyNftRuleset, deleteNetns, runCommand } from '../netns/index.js';
import { writeFileAtomic } from '../../common/atomic-file.js';

/** Marks the Pod objects the cluster writes for a Deployment's replicas (status, not specs). */
export const DEPLOYMENT_ANNOTATION = 'meshlite.io/deployment';

/** The token record name of a sidecar pod's proxy in istiod's node token file. */
const sidecarTokenNode = (s: { namespace: string; name: string }): string =>
  `sidecar/${s.namespace}/${s.name}`;

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
  /** The ztunnels' drain grace period on stop or rollout (their --drain-deadline), ms. */
  ztunnelDrain?: number;
}

interface RunningPod extends PodInfo {
  spec: PodSpecIn;
  runner: PodRunner;
  /** When the pod was created, RFC 3339 to the second (Kubernetes' creationTimestamp). */
  created: string;
}

export class LocalCluster {
  readonly nodes: NodeInfo[] = [];
  readonly pods: RunningPod[] = [];
  services: ServiceIn[] = [];
  istiod: Supervised | undefined;
  readonly ztunnels = new Map<string, Supervised>();
  private readonly agents = new Map<string, net.Socket>();
  private watchTimer: NodeJS.Timeout | undefined;
  private syncing = false;
  private stopped = false;
  private nextNode = 0;
  private lastRunners = '';
  /** Namespace labels as of the last read (injection is decided when a pod is created). */
  private nsLabels = new Map<string, Record<string, string>>();

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

  /**
   * A new cluster run issues new bootstrap tokens (istiod's token file is made again below), so the
   * proxies' token files an earlier run left (waypoints, gateways, sidecars) would no longer
   * authenticate: they go, and the controllers make new ones. The earlier run's logs move to
   * `logs.previous/`: the controllers read a proxy's log to see that it applied its configuration, and
   * an old line would count a proxy that cannot start as programmed.
   */
  private async forgetLastRun(): Promise<void> {
    const names = await readdir(this.o.stateDir).catch(() => [] as string[]);
    for (const f of names) if (f.endsWith('.token')) await rm(join(this.o.stateDir, f), { force: true });
    const previous = join(this.o.stateDir, 'logs.previous');
    await rm(previous, { recursive: true, force: true });
    await rename(this.dirs.logs, previous).catch(() => undefined);
  }

  async start(): Promise<void> {
    const p = this.o.progress;
    await cleanupCluster(this.o.name, this.o.stateDir, p);
    await this.forgetLastRun();
    for (const d of Object.values(this.dirs)) await mkdir(d, { recursive: true });
    // 1. Objects: copied into istiod's config directory; Services get VIPs.
    // (Pods a run wrote for Deployments are that run's status, not specs: the Deployments make them.)
    const objs = (await readObjects(this.o.configDir))
      .map((x) => x.obj)
      .filter((o) => !(o.kind === 'Pod' && annotationOf(o, DEPLOYMENT_ANNOTATION)));
    assignClusterIps(objs);
    for (const o of objs) await writeObject(this.dirs.config, o);
    this.services = servicesOf(objs);
    for (let i = 1; i <= this.o.nodes; i++) this.nodes.push(nodeInfo(this.o.name, i));
    const specs = podsOf(objs);
    this.nsLabels = namespaceLabels(objs);
    const tokens = join(this.o.stateDir, 'node-tokens.json');
    await rm(tokens, { force: true });
    // 2. Network.
    p(`network: fabric bridge and ${this.nodes.length} node namespaces (10.244.255.0/24)`);
    await createFabric(this.o.name); // first: it refuses to start beside another running cluster
    await addHostRoutes([]); // from here on no cluster address can take the host's default route
    for (const n of this.nodes) await createNode(this.o.name, n, this.nodes);
    for (const spec of specs) await this.addPod(spec, false);
    await this.writePodStatus();
    // 3. istiod on the host side of the node network, with its CA and one token per node.
    const ztId = { trustDomain: 'cluster.local', namespace: 'istio-system', serviceAccount: 'ztunnel' };
    for (const n of this.nodes) {
      await writeFile(
        join(this.o.stateDir, `${n.name}.token`),
        await addNodeToken(tokens, { node: n.name, identity: ztId }),
        { mode: 0o600 },
      );
    }
    const lvl = this.o.logLevel ?? 'info';
    this.istiod = new Supervised('istiod', {
      spawn: () => this.spawnIstiod(tokens, lvl),
      afterRestart: async (proc) => {
        await proc.waitFor((l) => l.msg === 'istiod started', 'istiod start');
        await this.writeClusterFile(true);
      },
      report: p,
    });
    await this.istiod.proc.waitFor((l) => l.msg === 'istiod started', 'istiod start');
    p(`istiod: xDS and CA on ${HOST_IP}:15010`);
    // 4. One ztunnel per node, in the node's namespace, capture mode.
    for (const n of this.nodes) {
      this.ztunnels.set(
        n.name,
        new Supervised(`ztunnel ${n.name}`, {
          spawn: () => this.spawnZtunnel(n, lvl),
          afterRestart: async (proc) => {
            await proc.waitFor((l) => l.msg === 'ztunnel started', 'ztunnel start');
            await this.handOver(n);
            await this.writeClusterFile(true);
          },
          report: p,
        }),
      );
    }
    for (const n of this.nodes) {
      const zt = this.ztunnels.get(n.name)!.proc;
      await zt.waitFor((l) => l.msg === 'ztunnel started', 'ztunnel start');
      await this.handOver(n);
      await zt.waitFor((l) => l.msg === 'first state sync done', 'first xDS sync');
      await applyNodeRules(
        n,
        nodeRuleset(n, this.services, (s) => this.endpointsOf(s), 15053),
      );
      p(`ztunnel ${n.name}: synced with istiod; node rules (DNS, Service VIPs) in place`);
    }
    await addHostRoutes(this.nodes);
    p(`host: routes to the pod ranges (${POD_RANGE}) and Service VIPs (${SERVICE_RANGE}) into the fabric`);
    // 5. Containers. The gateway controllers first write this run's status (a waypoint kept from an
    // earlier run is not programmed until its new pod says so) and tokens.
    await this.waypoints().reconcile();
    await this.gateways().reconcile();
    for (const pod of this.pods) pod.runner.start();
    await this.writeClusterFile(false);
  }

  private spawnIstiod(tokens: string, lvl: string): Proc {
    return new Proc(
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
  }

  private spawnZtunnel(n: NodeInfo, lvl: string): Proc {
    return new Proc(
      `ztunnel ${n.name}`,
      'ip',
      [
        'netns',
        'exec',
        n.netns,
        process.execPath,
        ...ZTUNNEL_NODE_FLAGS,
        join(DIST_SRC, 'ztunnel/main.js'),
        '--mode',
        'capture',
        '--capture-socket',
        join(this.o.stateDir, `${n.name}.capture.sock`),
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
        ...(this.o.ztunnelDrain !== undefined ? ['--drain-deadline', `${this.o.ztunnelDrain}ms`] : []),
        '--log-level',
        lvl,
      ],
      join(this.dirs.logs, `ztunnel-${n.name}.log`),
    );
  }

  /**
   * `meshctl rollout restart ztunnel`: per node, a new ztunnel starts beside the old one (its listeners
   * share the ports: SO_REUSEPORT), gets the node's pods from the node agent and opens their listeners;
   * then the old one stops accepting and drains its connections for its grace period
   * (--ztunnel-drain). New connections land on whichever listens, so none is refused.
   */
  async rolloutZtunnels(only: string | undefined, progress: (l: string) => void): Promise<string> {
    const nodes = only ? this.nodes.filter((n) => n.name === only) : this.nodes;
    if (nodes.length === 0)
      throw new Error(`no node ${only}; the nodes are ${this.nodes.map((n) => n.name).join(', ')}`);
    const lines: string[] = [];
    for (const n of nodes) {
      const sup = this.ztunnels.get(n.name)!;
      const enrolled = enrolledPods(sup.proc);
      const { old } = await sup.replace(async (p) => {
        await p.waitFor((l) => l.msg === 'ztunnel started', 'start');
        await this.handOver(n);
        await p.waitFor((l) => l.msg === 'first state sync done', 'first xDS sync');
        for (const pod of enrolled)
          await p.waitFor(
            (l) => l.msg === 'capture: pod enrolled (rules and listeners in its namespace)' && l.pod === pod,
            `the listeners of ${pod}`,
          );
      });
      const line = `ztunnel ${n.name}: pid ${sup.pid} took over ${enrolled.length} pod(s); pid ${old.child.pid} drains (up to ${(this.o.ztunnelDrain ?? 5000) / 1000} s)`;
      progress(line);
      lines.push(line);
      await this.writeClusterFile(true);
    }
    return lines.join('\n');
  }

  /**
   * Creates a pod: its network namespace and veth on a node (the one it names, else round robin),
   * runs its containers, and (once the cluster runs) hands it to the node's ztunnel.
   */
  private async addPod(spec: PodSpecIn, running: boolean): Promise<void> {
    const s = wantsSidecar(spec.namespace, spec.labels, this.nsLabels.get(spec.namespace))
      ? inject(spec, {
          execPath: process.execPath,
          xdsAddress: `${HOST_IP}:15010`,
          tokenFile: await this.sidecarToken(spec),
        })
      : spec;
    const node =
      this.nodes.find((n) => n.name === s.nodeName) ?? this.nodes[this.nextNode++ % this.nodes.length]!;
    const used = new Set(
      this.pods.filter((x) => x.node === node.name).map((x) => Number(x.hostLink.slice(1))),
    );
    let slot = 2;
    // A removed pod's veth outlives it while connections in its namespace drain: skip its slot.
    while (used.has(slot) || (await linkExists(node.netns, `p${slot}`))) slot++;
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
    if (s.sidecar) {
      // istio-init's role: the pod's capture rules before any container runs.
      const { capture, errors } = captureFromAnnotations(s.annotations);
      for (const e of errors) this.o.progress(`pod ${s.namespace}/${s.name}: ignored ${e}`);
      await applyNftRuleset(
        info.netns,
        sidecarRuleset({
          outboundPort: 15001,
          inboundPort: 15006,
          controlPlane: [`${HOST_IP}:15010`],
          ...capture,
        }),
      );
    }
    const vars = { MESHLITE_DIST: DIST_SRC, POD_NAME: s.name, POD_NAMESPACE: s.namespace, POD_IP: info.ip };
    const runner = new PodRunner(
      info.netns,
      s.containers,
      join(this.dirs.logs, `pod-${s.namespace}-${s.name}.log`),
      vars,
    );
    this.pods.push({ ...info, spec: s, runner, created: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
    this.o.progress(
      `pod ${s.namespace}/${s.name}: ${info.ip} on ${node.name}${s.sidecar ? ' (sidecar)' : ''}`,
    );
    if (running) {
      runner.start();
      // The node agent hands ztunnel only pods without a sidecar (as istio-cni).
      if (!s.sidecar)
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
    if (p.spec.sidecar) {
      await rm(this.sidecarTokenPath(p.spec), { force: true });
      await removeNodeToken(join(this.o.stateDir, 'node-tokens.json'), sidecarTokenNode(p.spec));
    }
    this.o.progress(`pod ${p.namespace}/${p.name}: removed`);
  }

  private sidecarTokenPath(s: PodSpecIn): string {
    return join(this.o.stateDir, `sidecar-${s.namespace}-${s.name}.token`);
  }

  /** A bootstrap token with which the pod's sidecar gets the pod's identity from the CA. */
  private async sidecarToken(s: PodSpecIn): Promise<string> {
    const path = this.sidecarTokenPath(s);
    const identity = {
      trustDomain: 'cluster.local',
      namespace: s.namespace,
      serviceAccount: s.serviceAccountName || 'default',
    };
    const token = await addNodeToken(join(this.o.stateDir, 'node-tokens.json'), {
      node: sidecarTokenNode(s),
      identity,
    });
    await writeFile(path, token, { mode: 0o600 });
    return path;
  }

  /**
   * `meshctl rollout restart deployment NAME -n NS`: the deployment's pods are removed and created
   * again from the current objects, so a namespace's injection label (or a changed template) takes
   * effect, as in Kubernetes.
   */
  async restartDeployment(ns: string, name: string, progress: (l: string) => void): Promise<string> {
    while (this.syncing) await new Promise((r) => setTimeout(r, 50));
    this.syncing = true;
    try {
      const all = (await readObjects(this.dirs.config)).map((x) => x.obj);
      const dep = all.find(
        (o) =>
          o.kind === 'Deployment' &&
          (o.metadata as { name?: string } | undefined)?.name === name &&
          ((o.metadata as { namespace?: string } | undefined)?.namespace ?? 'default') === ns,
      );
      if (!dep) throw new Error(`no Deployment ${ns}/${name}; meshctl get deployments -n ${ns} lists them`);
      this.nsLabels = namespaceLabels(all);
      const specs = podsOf([dep]);
      const old = this.pods.filter((x) => x.namespace === ns && x.deployment === name);
      for (const p of old) {
        await this.removePod(p);
        progress(`pod ${ns}/${p.name}: removed`);
      }
      // The new pod has the same name (and namespace path): its node's ztunnel must have released the
      // old one first, or it would take the new namespace for the one it already enrolled.
      for (const p of old) {
        const zt = this.ztunnels.get(p.node);
        const end = Date.now() + 10_000;
        while (zt && enrolledPods(zt.proc).includes(`${ns}/${p.name}`) && Date.now() < end)
          await new Promise((r) => setTimeout(r, 100));
      }
      await this.writePodStatus();
      for (const s of specs) {
        await this.addPod(s, true);
        const now = this.pods.find((x) => x.namespace === ns && x.name === s.name)!;
        progress(
          `pod ${ns}/${s.name}: created on ${now.node}, ${now.ip}${now.spec.sidecar ? ', sidecar injected' : ''}`,
        );
      }
      await this.writePodStatus();
      await this.writeClusterFile(true);
      return `deployment ${ns}/${name} restarted (${specs.length} pod(s))`;
    } finally {
      this.syncing = false;
    }
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

  /** Plays istiod's gateway controller for waypoint Gateways (Deployment, Service, token, status). */
  readonly waypoints = (): WaypointController =>
    new WaypointController({
      configDir: this.dirs.config,
      stateDir: this.o.stateDir,
      logsDir: this.dirs.logs,
      tokensFile: join(this.o.stateDir, 'node-tokens.json'),
      xdsAddress: `${HOST_IP}:15010`,
      execPath: process.execPath,
    });

  /** Plays istiod's gateway controller for ingress Gateways of class istio. */
  readonly gateways = (): GatewayController =>
    new GatewayController({
      configDir: this.dirs.config,
      stateDir: this.o.stateDir,
      logsDir: this.dirs.logs,
      tokensFile: join(this.o.stateDir, 'node-tokens.json'),
      xdsAddress: `${HOST_IP}:15010`,
      execPath: process.execPath,
    });

  private async syncObjects(): Promise<void> {
    await this.waypoints().reconcile();
    await this.gateways().reconcile();
    const all = (await readObjects(this.dirs.config)).map((x) => x.obj);
    // Pods the cluster wrote for Deployments are their status, not specs.
    const objs = all.filter((o) => !(o.kind === 'Pod' && annotationOf(o, DEPLOYMENT_ANNOTATION)));
    const before = new Map(objs.filter((o) => o.kind === 'Service').map((o) => [o, JSON.stringify(o.spec)]));
    assignClusterIps(objs);
    for (const [svc, spec] of before)
      if (JSON.stringify(svc.spec) !== spec) await writeObject(this.dirs.config, svc);
    this.nsLabels = namespaceLabels(objs);
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
    if (!changed && JSON.stringify(services) === JSON.stringify(this.services)) {
      // Containers the kubelet role restarted: new pids and counts for meshctl status.
      const runners = this.pods.map((p) => `${p.runner.pids.join(',')}/${p.runner.restarts}`).join(' ');
      if (runners !== this.lastRunners) await this.writeClusterFile(true);
      this.lastRunners = runners;
      return;
    }
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
    // A ztunnel that exits closes the socket; the supervisor hands the pods to the new one.
    conn.on('error', () => undefined);
    conn.on('close', () => {
      if (this.agents.get(n.name) === conn) this.agents.delete(n.name);
    });
    await new Promise<void>((r, j) => {
      conn.once('connect', () => r());
      conn.once('error', j);
    });
    conn.resume();
    this.agents.get(n.name)?.destroy();
    this.agents.set(n.name, conn);
    for (const pod of this.pods.filter((x) => x.node === n.name && !x.spec.sidecar)) {
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
        creationTimestamp: p.created,
        ...(p.deployment || p.spec.annotations
          ? {
              annotations: {
                ...(p.spec.annotations ?? {}),
                ...(p.deployment ? { [DEPLOYMENT_ANNOTATION]: p.deployment } : {}),
              },
            }
          : {}),
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
        startTime: p.created,
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
      configDir: this.dirs.config,
      mode: 'capture',
      pid: process.pid,
      ready,
      istiod: {
        address: `${HOST_IP}:15010`,
        monitoring: `${HOST_IP}:15014`,
        ...procStatus(this.istiod),
      },
      nodes: this.nodes.map((n) => ({
        ...n,
        ztunnel: procStatus(this.ztunnels.get(n.name)),
        ztunnelLog: join(this.dirs.logs, `ztunnel-${n.name}.log`),
        admin: `${n.ip}:15000`,
      })),
      pods: this.pods.map(({ spec, runner, ...info }) => ({
        ...info,
        pids: runner.pids,
        restarts: runner.restarts,
        labels: spec.labels,
        ...(spec.sidecar ? { sidecar: true } : {}),
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
    for (const s of [...this.ztunnels.values(), this.istiod]) s?.quiesce();
    for (const a of this.agents.values()) a.destroy();
    await Promise.all(this.pods.map((x) => x.runner.stop()));
    await Promise.all([...this.ztunnels.values()].map((z) => z.stop()));
    await this.istiod?.stop();
    await removeHostRoutes(this.o.name);
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
      old.istiod?.pid,
      ...(old.nodes ?? []).map((n) => n.ztunnel?.pid),
      ...(old.pods ?? []).flatMap((x) => x.pids),
      // meshctl up --kubernetes: the control plane's processes.
      ...((old as { kubernetes?: { pids?: number[] } }).kubernetes?.pids ?? []),
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
  await removeHostRoutes(name);
  const errors = await teardownNetwork(name);
  for (const e of errors) progress(`cleanup: ${e}`);
  await rm(join(stateDir, 'cluster.json'), { force: true });
}

/** The pods a ztunnel has enrolled now, by its log (enrolled minus released). */
function enrolledPods(p: Proc): string[] {
  const now = new Set<string>();
  for (const l of p.lines) {
    if (typeof l.pod !== 'string') continue;
    if (l.msg === 'capture: pod enrolled (rules and listeners in its namespace)') now.add(l.pod);
    else if (l.msg === 'capture: pod released (rules and listeners removed)') now.delete(l.pod);
  }
  return [...now];
}

function procStatus(s: Supervised | undefined): { pid?: number; restarts: number } {
  const pid = s?.pid;
  return { ...(pid ? { pid } : {}), restarts: s?.restarts ?? 0 };
}

export async function copyDemo(from: string, to: string, files: string[]): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const f of files) await copyFile(join(from, f), join(to, f));
}

/** One object per file, named as `meshctl apply` names them (so `meshctl label` can edit them). */
async function writeObject(dir: string, o: Record<string, unknown>): Promise<void> {
  const meta = (o.metadata ?? {}) as { name?: string; namespace?: string };
  const kind = fileStem(o.apiVersion, o.kind);
  const file = `${kind}-${meta.namespace ? `${meta.namespace}-` : ''}${meta.name ?? 'unnamed'}.yaml`;
  await writeFileAtomic(join(dir, file), stringify(o));
}

function namespaceLabels(
  objs: Array<{ kind?: string; metadata?: Record<string, unknown> }>,
): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const o of objs) {
    if (o.kind !== 'Namespace') continue;
    const m = o.metadata as { name?: string; labels?: Record<string, string> } | undefined;
    if (m?.name) out.set(m.name, m.labels ?? {});
  }
  return out;
}

/** Whether a link exists in a namespace (a deleted pod's veth lives on while sockets in it are open). */
async function linkExists(netns: string, link: string): Promise<boolean> {
  return runCommand('ip', ['-n', netns, 'link', 'show', link]).then(
    () => true,
    () => false,
  );
}
