/**
 * The node agent (Istio's istio-cni node agent, for one node): follows the node's Pods and the
 * Namespaces through the API, decides which pods are in the ambient mesh (enablement.ts), finds each
 * one's network namespace (pod-netns.ts), hands it to the node's ztunnel over the capture socket
 * (ztunnel-client.ts; ztunnel then installs the in-pod rules and opens the pod's listeners), and
 * annotates the pod `ambient.istio.io/redirection: enabled` once ztunnel acked it. A pod that leaves
 * the mesh (label, deletion) is removed from ztunnel and its annotation dropped. Restarts of the agent
 * or of ztunnel lose nothing: on every ztunnel connection the agent sends its whole snapshot.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../common/logger.js';
import { errorMessage } from '../common/errors.js';
import { KubeInformer, type RawObject } from '../istiod/config/kube-informer.js';
import { kubeRequest } from '../kube/kube-rest.js';
import type { CaptureMessage } from '../ztunnel/capture/protocol.js';
import { REDIRECTION_ANNOTATION, podEnabled, type AgentPod } from './enablement.js';
import { NetnsFinder, type FoundNetns } from './pod-netns.js';
import { ZtunnelClient } from './ztunnel-client.js';

export interface NodeAgentOptions {
  kc: KubeConfig;
  nodeName: string;
  ztunnelSocket: string;
  procDir: string;
  netnsDir: string;
  excludeNamespaces: string[];
  log: Logger;
}

interface Enrolled {
  pod: AgentPod;
  netns: FoundNetns;
  /** ztunnel acked the add on the current connection. */
  acked: boolean;
}

const RESYNC_MS = 2_000;

export class NodeAgent {
  private readonly pods = new Map<string, AgentPod>();
  private readonly namespaces = new Map<string, Record<string, string>>();
  private readonly enrolled = new Map<string, Enrolled>();
  private readonly informers: KubeInformer[] = [];
  private readonly ztunnel: ZtunnelClient;
  private readonly finder: NetnsFinder;
  private listed = { pods: false, namespaces: false };
  private busy: Promise<void> = Promise.resolve();
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Resolved after the first pass over the listed pods (the snapshot waits for it). */
  private firstPass!: () => void;
  private readonly synced = new Promise<void>((r) => (this.firstPass = r));

  constructor(private readonly o: NodeAgentOptions) {
    this.ztunnel = new ZtunnelClient(o.ztunnelSocket, o.log.child({ part: 'ztunnel-socket' }));
    this.finder = new NetnsFinder(o.procDir, o.netnsDir);
    this.ztunnel.onConnect = () => this.sendSnapshot();
  }

  /** Ready: both collections listed and a ztunnel connected (the node's pods can be enrolled). */
  get ready(): boolean {
    return this.listed.pods && this.listed.namespaces && this.ztunnel.connected;
  }

  start(): void {
    const follow = (
      path: string,
      which: 'pods' | 'namespaces',
      on: (t: string, o: RawObject) => void,
    ): void => {
      const inf = new KubeInformer(
        this.o.kc,
        path,
        {
          listed: () => {
            this.listed[which] = true;
            this.schedule();
          },
          event: (t, o) => {
            on(t, o);
            this.schedule();
          },
          error: (err, retryInMs) =>
            this.o.log.warn({ err: errorMessage(err), retryInMs }, `watching ${which} failed`),
        },
        { backoffMs: { initial: 500, max: 10_000 }, idleTimeoutMs: 60_000 },
      );
      inf.start();
      this.informers.push(inf);
    };
    // Istio's agent lists its node's pods with a field selector; a plain list filtered here works
    // with every API server version and is what this small cluster needs.
    follow('/api/v1/pods', 'pods', (t, o) => {
      const p = o as unknown as AgentPod;
      if (p.spec?.nodeName !== this.o.nodeName) return;
      if (t === 'DELETED') this.pods.delete(p.metadata.uid);
      else this.pods.set(p.metadata.uid, p);
    });
    follow('/api/v1/namespaces', 'namespaces', (t, o) => {
      const name = o.metadata?.name ?? '';
      if (t === 'DELETED') this.namespaces.delete(name);
      else this.namespaces.set(name, (o.metadata as { labels?: Record<string, string> }).labels ?? {});
    });
    this.ztunnel.start();
    // Pods whose namespace was not found yet (a container still starting) are retried.
    this.timer = setInterval(() => this.schedule(), RESYNC_MS);
    this.timer.unref();
  }

  private schedule(): void {
    if (this.stopped || !this.listed.pods || !this.listed.namespaces) return;
    this.again = true;
    this.busy = this.busy.then(async () => {
      if (!this.again || this.stopped) return;
      this.again = false;
      await this.reconcile().catch((err: unknown) =>
        this.o.log.error({ err: errorMessage(err) }, 'reconcile failed'),
      );
      this.firstPass();
    });
  }

  private async reconcile(): Promise<void> {
    const want = [...this.pods.values()].filter((p) =>
      podEnabled(p, this.namespaces.get(p.metadata.namespace), this.o.excludeNamespaces),
    );
    const wantUids = new Set(want.map((p) => p.metadata.uid));
    for (const [uid, e] of this.enrolled) {
      if (wantUids.has(uid)) continue;
      const why = await this.ztunnel.send({
        type: 'del',
        namespace: e.pod.metadata.namespace,
        name: e.pod.metadata.name,
      });
      if (why && this.ztunnel.connected) continue; // retried on the next pass
      this.enrolled.delete(uid);
      this.o.log.info({ pod: key(e.pod) }, 'pod removed from the mesh');
      if (this.pods.has(uid)) await this.annotate(e.pod, null);
    }
    // Pods whose namespace is not known yet: one /proc scan for all of them.
    const unknown = want.filter((p) => !this.enrolled.has(p.metadata.uid));
    const found = await this.finder.find(unknown.map((p) => p.metadata.uid));
    for (const p of unknown) {
      const netns = found.get(p.metadata.uid);
      if (netns) this.enrolled.set(p.metadata.uid, { pod: p, netns, acked: false });
      else this.o.log.debug({ pod: key(p) }, 'no process of the pod yet; retrying');
    }
    if (!this.ztunnel.connected) return; // the snapshot on connection sends them
    for (const p of want) {
      const e = this.enrolled.get(p.metadata.uid);
      if (!e || e.acked) continue;
      e.pod = p;
      const why = await this.ztunnel.send(addMessage(e));
      if (why) {
        this.o.log.warn({ pod: key(p), err: why }, 'ztunnel did not take the pod; retrying');
        continue;
      }
      e.acked = true;
      this.o.log.info({ pod: key(p), netns: e.netns.path }, 'pod handed to ztunnel');
      await this.annotate(p, 'enabled');
    }
  }

  /** Every enrolled pod, then snapshot-done: a new ztunnel (or a restarted agent's first) learns them all. */
  private async sendSnapshot(): Promise<void> {
    // A restarted agent first learns the node's pods and their namespaces (Istio: pods annotated
    // enabled, netns via /proc), so its first snapshot names them all.
    await this.synced;
    for (const e of this.enrolled.values()) {
      e.acked = !(await this.ztunnel.send(addMessage(e)));
      if (e.acked && this.pods.has(e.pod.metadata.uid)) await this.annotate(e.pod, 'enabled');
    }
    const why = await this.ztunnel.send({ type: 'snapshot-done' });
    this.o.log.info({ pods: this.enrolled.size, err: why }, 'snapshot sent to ztunnel');
    this.schedule();
  }

  /** The redirection annotation, through the pods/status subresource as Istio's agent writes it. */
  private async annotate(p: AgentPod, value: 'enabled' | null): Promise<void> {
    if (p.metadata.annotations?.[REDIRECTION_ANNOTATION] === (value ?? undefined)) return;
    await kubeRequest(
      this.o.kc,
      'PATCH',
      `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/status`,
      { metadata: { annotations: { [REDIRECTION_ANNOTATION]: value } } },
      { patch: 'merge', allow404: true },
    ).catch((err: unknown) =>
      this.o.log.warn({ pod: key(p), err: errorMessage(err) }, 'annotating the pod failed'),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.ztunnel.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}

const key = (p: AgentPod): string => `${p.metadata.namespace}/${p.metadata.name}`;

function addMessage(e: Enrolled): CaptureMessage {
  const m: CaptureMessage = {
    type: 'add',
    namespace: e.pod.metadata.namespace,
    name: e.pod.metadata.name,
    netns: e.netns.path,
  };
  if (e.netns.gateway) m.healthSource = e.netns.gateway;
  return m;
}
