/**
 * Leader election among istiod replicas with a coordination.k8s.io/v1 Lease, as client-go's
 * leaderelection does it: every retry period the candidate reads the Lease; it takes it when there
 * is none, when it is its own (renewal), or when the holder has not renewed for the lease duration
 * as this replica observed it (local clock, so clock skew between replicas does not matter); writes
 * carry the read resourceVersion, so of two candidates only one wins. A leader that cannot renew
 * within the renew deadline steps down. On stop, a leader releases the Lease (empty holder), so
 * another replica takes over at once rather than after the lease duration.
 */
import { errorMessage } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { requestJson, statusOf, type KubeConfig } from './config/kube-client.js';

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** This replica (its pod name). */
  identity: string;
  /** Default 15 s, renew deadline 10 s, retry period 2 s (client-go's defaults). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger?: Logger;
  onStartedLeading: () => void;
  /** Called when leadership is lost or given up at stop; awaited before the next attempt. */
  onStoppedLeading: () => Promise<void> | void;
}

interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderElector {
  private readonly log: Logger;
  private readonly durationMs: number;
  private readonly deadlineMs: number;
  private readonly retryMs: number;
  private readonly path: string;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private leading = false;
  private lastRenew = 0;
  /** The holder record last read, and when (local clock) it last changed. */
  private observed: { key: string; at: number } | undefined;
  private loop: Promise<void> | undefined;
  private waiters: Array<() => void> = [];

  constructor(private readonly o: LeaderElectionOptions) {
    this.log = o.logger ?? silentLogger();
    this.durationMs = o.leaseDurationMs ?? 15_000;
    this.deadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${o.namespace}/leases/${o.name}`;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /**
   * Stops trying; a leader stops its work and releases the Lease (`release: false` leaves it to
   * expire, as a crashed replica would).
   */
  async stop(opts: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.loop;
    if (this.leading) {
      this.leading = false;
      await this.o.onStoppedLeading();
      if (opts.release === false) return;
      await this.release().catch((err: unknown) =>
        this.log.warn({ err: errorMessage(err) }, 'leader election: could not release the Lease'),
      );
    }
  }

  /** Resolves once this replica leads (tests). */
  whenLeading(): Promise<void> {
    if (this.leading) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.loop = this.round().finally(() => {
        this.loop = undefined;
        this.schedule(this.retryMs);
      });
    }, ms);
    this.timer.unref();
  }

  private async round(): Promise<void> {
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.log.warn({ lease: this.o.name, err: errorMessage(err) }, 'leader election: Lease request failed');
    }
    if (this.stopped) {
      if (ok && !this.leading) await this.release().catch(() => undefined);
      return;
    }
    if (ok) {
      this.lastRenew = Date.now();
      if (!this.leading) {
        this.leading = true;
        this.log.info({ lease: this.o.name, identity: this.o.identity }, 'leader election: leading');
        this.o.onStartedLeading();
        for (const w of this.waiters.splice(0)) w();
      }
    } else if (this.leading && Date.now() - this.lastRenew > this.deadlineMs) {
      this.leading = false;
      this.log.warn(
        { lease: this.o.name },
        'leader election: could not renew the Lease in time; stepping down',
      );
      await this.o.onStoppedLeading();
    }
  }

  private record(now: Date, prev?: Lease['spec']): Lease['spec'] {
    const mine = prev?.holderIdentity === this.o.identity;
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.max(1, Math.round(this.durationMs / 1000)),
      acquireTime: mine && prev?.acquireTime ? prev.acquireTime : microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (prev && !mine ? 1 : 0),
    };
  }

  /** One attempt; true when this replica holds the Lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    let lease: Lease;
    try {
      lease = await requestJson<Lease>(this.o.kubeConfig, 'GET', this.path, undefined, {
        timeoutMs: this.deadlineMs,
      });
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      const body: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: this.record(now),
      };
      try {
        await requestJson(this.o.kubeConfig, 'POST', this.path.slice(0, this.path.lastIndexOf('/')), body);
        return true;
      } catch (e) {
        if (statusOf(e) === 409) return false; // another replica created it first
        throw e;
      }
    }
    const spec = lease.spec ?? {};
    const key = `${spec.holderIdentity ?? ''}|${spec.renewTime ?? ''}`;
    if (this.observed?.key !== key) this.observed = { key, at: Date.now() };
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (holder !== '' && holder !== this.o.identity && this.observed.at + durationMs > Date.now())
      return false;
    try {
      await requestJson(this.o.kubeConfig, 'PUT', this.path, { ...lease, spec: this.record(now, spec) });
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false; // someone else wrote it in between
      throw err;
    }
  }

  private async release(): Promise<void> {
    const lease = await requestJson<Lease>(this.o.kubeConfig, 'GET', this.path);
    if (lease.spec?.holderIdentity !== this.o.identity) return;
    await requestJson(this.o.kubeConfig, 'PUT', this.path, {
      ...lease,
      spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(new Date()) },
    });
    this.log.info({ lease: this.o.name }, 'leader election: released the Lease');
  }
}
