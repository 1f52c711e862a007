/**
 * The kubelet role of `meshctl up --kubernetes`: registers the cluster's nodes as Node objects (and
 * keeps their Ready heartbeat), watches the Pods the scheduler binds to them, and runs each in a
 * network namespace of its node (network.ts, the same as the file-driven cluster), its containers
 * with PodRunner (images → executables: images.ts), its volumes as directories (pod-volumes.ts). It
 * reports the pod IP, phase, readiness (the containers' readiness probes) and restarts in the pod's
 * status, and on deletion stops the containers, removes the namespace and deletes the object.
 */
import net from 'node:net';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { errorMessage } from '../../common/errors.js';
import { KubeInformer, type RawObject } from '../../istiod/config/kube-informer.js';
import { kubeRequest } from '../../kube/kube-rest.js';
import { deleteNetns, runCommand } from '../netns/index.js';
import { createPod } from '../cluster/network.js';
import { PodRunner } from '../cluster/kubelet.js';
import type { Container } from '../cluster/manifests.js';
import { podAddress, podNetns, type NodeInfo, type PodInfo } from '../cluster/topology.js';
import { containerCommand, entrypoint } from './images.js';
import {
  expandVars,
  fieldValue,
  probePort,
  translatePaths,
  type ContainerSpec,
  type KubePod,
} from './pod-spec.js';
import { VolumeNotReady, podRoot, podToken, setUpVolumes } from './pod-volumes.js';
import { TokenRefresher } from './token-refresh.js';
import { runInitContainers, type InitResult } from './init-containers.js';
import { runAsPrefix } from './run-as.js';

export interface KubeKubeletOptions {
  kc: KubeConfig;
  prefix: string;
  stateDir: string;
  nodes: NodeInfo[];
  /** dist/src of this checkout (the project images' executables). */
  distSrc: string;
  progress: (line: string) => void;
}

export interface KubeRunningPod extends PodInfo {
  uid: string;
  runner: PodRunner | undefined;
  labels: Record<string, string>;
  created: string;
  ready: boolean;
  /** The status last PATCHed successfully (its JSON), so an unchanged one is not written again. */
  lastStatus: string;
  /** The pod's status writes run one after another (see writeStatus). */
  statusWrites?: Promise<void>;
  pod: KubePod;
  /** The init containers have all completed (they run once per pod). */
  initDone: boolean;
  /** The init container that failed last (retried every 2 s). */
  initFailure?: InitResult;
  /** Replaces the projected service-account tokens before they expire. */
  tokens?: TokenRefresher;
}

const NODE_HEARTBEAT_MS = 10_000;
const PROBE_MS = 2_000;
const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export class KubeKubelet {
  readonly pods = new Map<string, KubeRunningPod>();
  private informer: KubeInformer | undefined;
  private readonly queues = new Map<string, Promise<void>>();
  private heartbeat: NodeJS.Timeout | undefined;
  private prober: NodeJS.Timeout | undefined;
  private stopped = false;
  /** UIDs of pods deleted from the API (a retried start must not bring one back). */
  private readonly gone = new Set<string>();
  /** Called after pods start or stop (cluster.json for meshctl exec/status). */
  onChange: () => void = () => undefined;

  constructor(private readonly o: KubeKubeletOptions) {}

  async start(): Promise<void> {
    for (const n of this.o.nodes) await this.registerNode(n);
    this.heartbeat = setInterval(() => {
      for (const n of this.o.nodes)
        this.patchNodeStatus(n).catch((err: unknown) =>
          this.o.progress(`kubelet ${n.name}: heartbeat failed: ${errorMessage(err)}`),
        );
    }, NODE_HEARTBEAT_MS);
    this.heartbeat.unref();
    this.informer = new KubeInformer(
      this.o.kc,
      '/api/v1/pods',
      {
        listed: () => undefined,
        event: (type, obj) => this.onPod(type, obj),
        error: (err, retry) => this.o.progress(`kubelet: ${errorMessage(err)} (retry in ${retry} ms)`),
      },
      { backoffMs: { initial: 500, max: 5000 }, idleTimeoutMs: 60_000 },
    );
    this.informer.start();
    this.prober = setInterval(() => void this.probeAll(), PROBE_MS);
    this.prober.unref();
  }

  private async registerNode(n: NodeInfo): Promise<void> {
    const labels = {
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': process.arch === 'arm64' ? 'arm64' : 'amd64',
      'kubernetes.io/hostname': n.name,
    };
    const exists = await kubeRequest(this.o.kc, 'GET', `/api/v1/nodes/${n.name}`, undefined, {
      allow404: true,
    });
    if (!exists)
      await kubeRequest(this.o.kc, 'POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: n.name, labels },
        spec: { podCIDR: n.podCidr, podCIDRs: [n.podCidr] },
      });
    await this.patchNodeStatus(n);
    this.o.progress(`node ${n.name}: registered (${n.ip}, pods ${n.podCidr})`);
  }

  private async patchNodeStatus(n: NodeInfo): Promise<void> {
    const t = now();
    const capacity = { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' };
    const cond = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: reason,
      lastHeartbeatTime: t,
      lastTransitionTime: t,
    });
    await kubeRequest(
      this.o.kc,
      'PATCH',
      `/api/v1/nodes/${n.name}/status`,
      {
        status: {
          capacity,
          allocatable: capacity,
          addresses: [
            { type: 'InternalIP', address: n.ip },
            { type: 'Hostname', address: n.name },
          ],
          conditions: [
            cond('Ready', 'True', 'KubeletReady'),
            cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
            cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
            cond('PIDPressure', 'False', 'KubeletHasSufficientPID'),
          ],
          nodeInfo: {
            kubeletVersion: 'v1.20.2',
            kubeProxyVersion: 'v1.20.2',
            operatingSystem: 'linux',
            architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
            containerRuntimeVersion: 'meshlite://netns',
            osImage: 'meshlite local cluster',
            kernelVersion: '',
            machineID: '',
            systemUUID: '',
            bootID: '',
          },
        },
      },
      { patch: 'strategic' },
    );
  }

  /** Pod events are handled one at a time per pod (a deletion waits for a start in progress). */
  private onPod(type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: RawObject): void {
    const pod = obj as unknown as KubePod;
    const node = this.o.nodes.find((n) => n.name === pod.spec?.nodeName);
    if (!node || this.stopped) return;
    this.enqueue(pod, () => this.handle(type, pod, node));
  }

  private enqueue(pod: KubePod, op: () => Promise<void>): void {
    const uid = pod.metadata.uid;
    const prev = this.queues.get(uid) ?? Promise.resolve();
    const next = prev
      .then(op)
      .catch((err: unknown) =>
        this.o.progress(`kubelet: pod ${pod.metadata.namespace}/${pod.metadata.name}: ${errorMessage(err)}`),
      );
    this.queues.set(uid, next);
    void next.finally(() => {
      if (this.queues.get(uid) === next) this.queues.delete(uid);
    });
  }

  private async handle(type: string, pod: KubePod, node: NodeInfo): Promise<void> {
    const uid = pod.metadata.uid;
    const running = this.pods.get(uid);
    if (running) running.pod = pod;
    if (type === 'DELETED') {
      this.gone.add(uid);
      if (running) await this.stopPod(running);
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      if (running) await this.stopPod(running);
      await kubeRequest(
        this.o.kc,
        'DELETE',
        `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`,
        { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid } },
        { allow404: true },
      ).catch((err: unknown) => {
        if (!/HTTP 409/.test(errorMessage(err))) throw err;
      });
      return;
    }
    if (running || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    await this.startPod(pod, node);
  }

  private podDir(uid: string): string {
    return join(this.o.stateDir, 'kube', 'pods', uid);
  }

  private async startPod(pod: KubePod, node: NodeInfo): Promise<void> {
    const { namespace, name, uid } = pod.metadata;
    const used = new Set(
      [...this.pods.values()].filter((x) => x.node === node.name).map((x) => Number(x.hostLink.slice(1))),
    );
    let slot = 2;
    // A removed pod's veth outlives it while connections in its namespace drain: skip its slot.
    while (used.has(slot) || (await linkExists(node.netns, `p${slot}`))) slot++;
    if (slot > 254) throw new Error(`node ${node.name} has no free pod address`);
    const info: PodInfo = {
      namespace,
      name,
      node: node.name,
      netns: podNetns(this.o.prefix, node, namespace, name),
      ip: podAddress(node, slot),
      hostLink: `p${slot}`,
    };
    const deployment = deploymentOf(pod);
    if (deployment) info.deployment = deployment;
    const rp: KubeRunningPod = {
      ...info,
      uid,
      runner: undefined,
      labels: pod.metadata.labels ?? {},
      created: now(),
      ready: false,
      lastStatus: '',
      pod,
      initDone: !pod.spec.initContainers?.length,
    };
    this.pods.set(uid, rp);
    try {
      await createPod(info, node);
      this.o.progress(`pod ${namespace}/${name}: ${info.ip} on ${node.name}`);
      await this.runContainers(rp, node);
    } catch (err) {
      // Not left half made: the network goes, and the pod is started again from its latest object.
      this.o.progress(`pod ${namespace}/${name}: start failed (${errorMessage(err)}); retrying in 2 s`);
      this.pods.delete(uid);
      rp.tokens?.stop();
      await rp.runner?.stop();
      await this.removeNetwork(info);
      setTimeout(() => {
        if (!this.stopped && !this.pods.has(uid) && !this.gone.has(uid))
          this.onPod('MODIFIED', rp.pod as unknown as RawObject);
      }, 2000).unref();
    }
    this.onChange();
  }

  /** Volumes, then the containers; while a volume's source is missing, retried every 2 s (ContainerCreating). */
  private async runContainers(rp: KubeRunningPod, node: NodeInfo): Promise<void> {
    if (this.pods.get(rp.uid) !== rp || rp.runner) return;
    const pod = rp.pod;
    const facts = { podIP: rp.ip, hostIP: node.ip };
    const podDir = this.podDir(rp.uid);
    await mkdir(join(podDir, 'logs'), { recursive: true });
    let mountPaths: string[];
    try {
      const volumes = await setUpVolumes(this.o.kc, pod, facts, {
        podDir,
        nodeDir: join(this.o.stateDir, 'kube', 'nodes', node.name),
      });
      mountPaths = volumes.mountPaths;
      rp.tokens?.stop();
      rp.tokens = new TokenRefresher(volumes.tokens, {
        fetch: (t) => podToken(this.o.kc, pod, t.audience, t.seconds),
        log: (line) => this.o.progress(`pod ${rp.namespace}/${rp.name}: ${line}`),
      });
      rp.tokens.start();
    } catch (err) {
      if (!(err instanceof VolumeNotReady) && !/HTTP/.test(errorMessage(err))) throw err;
      await this.writeStatus(rp, { waiting: { reason: 'ContainerCreating', message: errorMessage(err) } });
      setTimeout(() => {
        if (this.pods.get(rp.uid) === rp && !rp.runner && !this.stopped)
          this.enqueue(rp.pod, () => this.runContainers(rp, node));
      }, 2000).unref();
      return;
    }
    const root = podRoot(podDir);
    const logFile = join(podDir, 'logs', 'containers.log');
    const build = async (specs: ContainerSpec[]): Promise<Container[] | undefined> => {
      const out: Container[] = [];
      for (const c of specs) {
        const env = await this.envOf(pod, c, facts, mountPaths, root);
        const ep = entrypoint(c, process.execPath, this.o.distSrc);
        if (!ep.ok) {
          await this.writeStatus(rp, { waiting: { reason: ep.reason, message: ep.message } });
          this.o.progress(`pod ${rp.namespace}/${rp.name}: ${ep.message}`);
          return undefined;
        }
        out.push({
          name: c.name,
          command: [
            ...runAsPrefix(c.securityContext, pod.spec.securityContext),
            ...containerCommand(ep, (a) => translatePaths(expandVars(a, env), mountPaths, root)),
          ],
          args: [],
          env,
          ports: (c.ports ?? []).map((p) => p.containerPort),
        });
      }
      return out;
    };
    if (!rp.initDone) {
      const inits = await build(pod.spec.initContainers ?? []);
      if (!inits) return;
      await this.writeStatus(rp);
      const failed = await runInitContainers(rp.netns, inits, logFile);
      if (this.pods.get(rp.uid) !== rp) return;
      if (failed) {
        // As the kubelet with restartPolicy Always: the failed init container is run again.
        rp.initFailure = failed;
        const message = `init container ${failed.name} exited with ${failed.signal ?? failed.exitCode} (its output: ${logFile})`;
        this.o.progress(`pod ${rp.namespace}/${rp.name}: ${message}; retrying in 2 s`);
        await this.writeStatus(rp, { waiting: { reason: 'PodInitializing', message } });
        setTimeout(() => {
          if (this.pods.get(rp.uid) === rp && !rp.runner && !this.stopped)
            this.enqueue(rp.pod, () => this.runContainers(rp, node));
        }, 2000).unref();
        return;
      }
      rp.initDone = true;
      delete rp.initFailure;
      this.o.progress(
        `pod ${rp.namespace}/${rp.name}: init containers done (${inits.map((c) => c.name).join(', ')})`,
      );
    }
    const containers = await build(pod.spec.containers);
    if (!containers) return;
    rp.runner = new PodRunner(rp.netns, containers, logFile, {});
    rp.runner.start();
    await this.writeStatus(rp);
    void this.probe(rp);
  }

  /** The container's environment: its env list (downward API, ConfigMap/Secret keys) and the cluster's. */
  private async envOf(
    pod: KubePod,
    c: ContainerSpec,
    facts: { podIP: string; hostIP: string },
    mountPaths: string[],
    root: string,
  ): Promise<Record<string, string>> {
    const env: Record<string, string> = {
      // The in-cluster client's API address: the `kubernetes` Service by its name (the API server's
      // certificate names it; cluster DNS and the node's Service rules lead to the API server).
      KUBERNETES_SERVICE_HOST: 'kubernetes.default.svc',
      KUBERNETES_SERVICE_PORT: '443',
      MESHLITE_POD_ROOT: root,
      MESHLITE_POD_UID: pod.metadata.uid,
      MESHLITE_DIST: this.o.distSrc,
      KUBECONFIG: '',
    };
    for (const e of c.env ?? []) {
      let v: string | undefined = e.value !== undefined ? expandVars(e.value, env) : undefined;
      const from = e.valueFrom;
      if (from?.fieldRef) v = fieldValue(pod, facts, from.fieldRef.fieldPath);
      else if (from?.resourceFieldRef)
        v = c.resources?.limits?.[from.resourceFieldRef.resource.replace(/^limits\./, '')] ?? '0';
      else if (from?.configMapKeyRef || from?.secretKeyRef) {
        const ref = (from.configMapKeyRef ?? from.secretKeyRef)!;
        const kind = from.configMapKeyRef ? 'configmaps' : 'secrets';
        const o = await kubeRequest<{ data?: Record<string, string> }>(
          this.o.kc,
          'GET',
          `/api/v1/namespaces/${pod.metadata.namespace}/${kind}/${ref.name}`,
          undefined,
          { allow404: true },
        );
        const raw = o?.data?.[ref.key];
        if (raw === undefined && !ref.optional)
          throw new VolumeNotReady(`${kind} ${ref.name} has no key ${ref.key}`);
        v = raw === undefined ? undefined : kind === 'secrets' ? Buffer.from(raw, 'base64').toString() : raw;
      }
      if (v !== undefined) env[e.name] = translatePaths(v, mountPaths, root);
    }
    return env;
  }

  private async probeAll(): Promise<void> {
    for (const rp of this.pods.values()) if (rp.runner) await this.probe(rp);
  }

  /** Readiness: every container with a readiness probe passes it (others: running). */
  private async probe(rp: KubeRunningPod): Promise<void> {
    if (!rp.runner) return;
    let ready = rp.runner.pids.length === rp.pod.spec.containers.length;
    for (const c of rp.pod.spec.containers) {
      const p = c.readinessProbe;
      if (!p || !ready) continue;
      const port = probePort(c, (p.httpGet ?? p.tcpSocket)?.port ?? 0);
      if (!port) continue;
      ready = p.httpGet ? await httpProbe(rp.ip, port, p.httpGet.path ?? '/') : await tcpProbe(rp.ip, port);
    }
    rp.ready = ready;
    await this.writeStatus(rp).catch((err: unknown) =>
      this.o.progress(`kubelet: status of ${rp.namespace}/${rp.name}: ${errorMessage(err)}`),
    );
  }

  /**
   * PATCHes the pod's status when it changed (phase, IPs, conditions, container states). One pod's
   * writes are queued and each computes the status when its turn comes: two in flight at once could
   * land out of order (a probe's Ready=True overwritten by an older Running 0/1, then never written
   * again as unchanged); a failed write is tried again by the next one.
   */
  private writeStatus(
    rp: KubeRunningPod,
    problem?: { waiting: { reason: string; message: string } },
  ): Promise<void> {
    const write = (rp.statusWrites ?? Promise.resolve()).then(() => this.writeStatusNow(rp, problem));
    rp.statusWrites = write.catch(() => undefined);
    return write;
  }

  private async writeStatusNow(
    rp: KubeRunningPod,
    problem?: { waiting: { reason: string; message: string } },
  ): Promise<void> {
    if (this.pods.get(rp.uid) !== rp && !problem) return;
    const node = this.o.nodes.find((n) => n.name === rp.node)!;
    const restarts = rp.runner?.restarts ?? 0;
    const running = !problem && !!rp.runner;
    const b = (x: boolean): string => (x ? 'True' : 'False');
    const inits = rp.pod.spec.initContainers ?? [];
    const shape = {
      phase: running ? 'Running' : 'Pending',
      hostIP: node.ip,
      ...(running ? { podIP: rp.ip, podIPs: [{ ip: rp.ip }] } : {}),
      startTime: rp.created,
      conditions: [
        { type: 'Initialized', status: b(rp.initDone) },
        { type: 'Ready', status: b(running && rp.ready) },
        { type: 'ContainersReady', status: b(running && rp.ready) },
        { type: 'PodScheduled', status: 'True' },
      ],
      ...(inits.length
        ? {
            initContainerStatuses: inits.map((c) => {
              const failed = rp.initFailure?.name === c.name ? rp.initFailure : undefined;
              return {
                name: c.name,
                image: c.image ?? '',
                imageID: '',
                ready: rp.initDone,
                restartCount: 0,
                state: rp.initDone
                  ? { terminated: { exitCode: 0, reason: 'Completed', startedAt: rp.created } }
                  : failed
                    ? { terminated: { exitCode: failed.exitCode, reason: 'Error', startedAt: rp.created } }
                    : { waiting: { reason: 'PodInitializing' } },
              };
            }),
          }
        : {}),
      containerStatuses: rp.pod.spec.containers.map((c) => ({
        name: c.name,
        image: c.image ?? '',
        imageID: '',
        ready: running && rp.ready,
        started: running,
        restartCount: restarts,
        state: running
          ? { running: { startedAt: rp.created } }
          : {
              waiting: problem?.waiting ?? {
                reason: rp.initDone ? 'ContainerCreating' : 'PodInitializing',
              },
            },
      })),
    };
    const key = JSON.stringify(shape);
    if (key === rp.lastStatus) return;
    const t = now();
    const status = {
      ...shape,
      conditions: shape.conditions.map((c) => ({ ...c, lastProbeTime: null, lastTransitionTime: t })),
    };
    await kubeRequest(
      this.o.kc,
      'PATCH',
      `/api/v1/namespaces/${rp.namespace}/pods/${rp.name}/status`,
      { status },
      { patch: 'merge', allow404: true },
    );
    rp.lastStatus = key;
  }

  private async stopPod(rp: KubeRunningPod): Promise<void> {
    this.pods.delete(rp.uid);
    rp.tokens?.stop();
    await rp.runner?.stop();
    await this.removeNetwork(rp);
    await rm(this.podDir(rp.uid), { recursive: true, force: true });
    this.o.progress(`pod ${rp.namespace}/${rp.name}: removed`);
    this.onChange();
  }

  private async removeNetwork(rp: PodInfo): Promise<void> {
    await deleteNetns(rp.netns, { ignoreMissing: true });
    await rm(`/etc/netns/${rp.netns}`, { recursive: true, force: true });
  }

  /** Stops watching and every pod's containers (the network goes with the cluster's teardown). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    clearInterval(this.prober);
    await this.informer?.stop();
    await Promise.all([...this.queues.values()]);
    for (const p of this.pods.values()) p.tokens?.stop();
    await Promise.all([...this.pods.values()].map((p) => p.runner?.stop()));
  }
}

/** The Deployment of a pod (its ReplicaSet's name less the pod-template-hash), for `meshctl exec ns/<deployment>`. */
function deploymentOf(pod: KubePod): string | undefined {
  const refs = (pod.metadata as { ownerReferences?: Array<{ kind: string; name: string }> }).ownerReferences;
  const rs = refs?.find((r) => r.kind === 'ReplicaSet');
  const hash = pod.metadata.labels?.['pod-template-hash'];
  if (rs && hash && rs.name.endsWith(`-${hash}`)) return rs.name.slice(0, -hash.length - 1);
  const ds = refs?.find((r) => r.kind === 'DaemonSet');
  return ds?.name;
}

async function httpProbe(ip: string, port: number, path: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${ip}:${port}${path}`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status >= 200 && res.status < 400;
  } catch {
    return false;
  }
}

function tcpProbe(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port, timeout: 1000 });
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.once('timeout', () => done(false));
  });
}

async function linkExists(netns: string, link: string): Promise<boolean> {
  return runCommand('ip', ['-n', netns, 'link', 'show', link]).then(
    () => true,
    () => false,
  );
}
