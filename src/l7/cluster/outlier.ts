/**
 * Outlier detection per cluster (DestinationRule outlierDetection, Envoy's consecutive-error
 * detectors): an endpoint with N consecutive 5xx (or gateway errors: 502/503/504, connect failures,
 * resets, timeouts) is ejected at once for baseEjectionTime × times ejected (capped at 300 s or the base),
 * as long as no more than maxEjectionPercent of the cluster is out. Every interval, endpoints whose
 * time is up return and the multiplier of healthy ones decays. Below minHealthPercent healthy, ejections
 * are ignored (panic). State survives pushes (keyed by cluster and ip:port).
 */
import type { Counter, Gauge } from 'prom-client';
import type { Cluster, Endpoint } from '../model.js';
import type { OutlierPolicy } from './traffic-policy.js';
import { key } from './balancer.js';

export type AttemptResult =
  { status: number } | { failure: 'connect' | 'reset' | 'timeout' | 'refused' | 'protocol' };

interface Host {
  c5xx: number;
  cGateway: number;
  ejectedUntil: number;
  times: number;
  reason: string;
}

interface ClusterState {
  hosts: Map<string, Host>;
  policy: OutlierPolicy;
  timer: NodeJS.Timeout | undefined;
  /** Endpoints minus ejected ones, rebuilt when an ejection changes. */
  view: Cluster | undefined;
  viewOf: Cluster | undefined;
  ejected: number;
}

export interface OutlierMetrics {
  active: Gauge<'cluster_name'>;
  enforced: Counter<'cluster_name' | 'reason'>;
}

export interface EndpointHealth {
  endpoint: string;
  health: 'HEALTHY' | 'EJECTED';
  reason?: string;
  ejectedUntil?: string;
  timesEjected: number;
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
}

export class OutlierDetector {
  private readonly clusters = new Map<string, ClusterState>();

  constructor(
    private readonly metrics?: OutlierMetrics,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cluster as the balancer should see it: ejected endpoints left out (unless in panic). */
  view(c: Cluster): Cluster {
    const s = c.outlier ? this.clusters.get(c.name) : undefined;
    if (!s || s.ejected === 0) return c;
    if (s.view && s.viewOf === c) return s.view;
    const healthy = c.endpoints.filter((e) => !((s.hosts.get(key(e))?.ejectedUntil ?? 0) > 0));
    const panic =
      c.endpoints.length > 0 && (healthy.length * 100) / c.endpoints.length < s.policy.minHealthPercent;
    s.view = panic ? c : { ...c, endpoints: healthy };
    s.viewOf = c;
    return s.view;
  }

  /** Records how an attempt to an endpoint ended; may eject it. */
  report(c: Cluster, ep: Endpoint, r: AttemptResult): void {
    const policy = c.outlier;
    if (!policy) return;
    const s = this.cluster(c.name, policy);
    const k = key(ep);
    let h = s.hosts.get(k);
    const status = 'status' in r ? r.status : 0;
    const gatewayError = status === 502 || status === 503 || status === 504 || 'failure' in r;
    const error = status >= 500 || 'failure' in r;
    if (!error) {
      if (h) h.c5xx = h.cGateway = 0;
      return;
    }
    if (!h) s.hosts.set(k, (h = { c5xx: 0, cGateway: 0, ejectedUntil: 0, times: 0, reason: '' }));
    h.c5xx++;
    if (gatewayError) h.cGateway++;
    // Still out (its time may be up, but it returns only at the next interval sweep).
    if (h.ejectedUntil > 0) return;
    const now = this.now();
    let reason = '';
    if (policy.consecutiveGatewayErrors > 0 && h.cGateway >= policy.consecutiveGatewayErrors)
      reason = 'consecutive_gateway_failure';
    else if (policy.consecutive5xxErrors > 0 && h.c5xx >= policy.consecutive5xxErrors)
      reason = 'consecutive_5xx';
    if (!reason) return;
    const total = c.endpoints.length;
    if (total === 0 || (s.ejected * 100) / total >= policy.maxEjectionPercent) return;
    h.times++;
    const cap = Math.max(policy.baseEjectionTimeMs, 300_000);
    h.ejectedUntil = now + Math.min(policy.baseEjectionTimeMs * h.times, cap);
    h.reason = reason;
    h.c5xx = h.cGateway = 0;
    s.ejected++;
    s.view = undefined;
    this.metrics?.enforced.inc({ cluster_name: c.name, reason });
    this.metrics?.active.set({ cluster_name: c.name }, s.ejected);
  }

  /** Runs the periodic sweep now (tests; the timer calls it every interval). */
  sweep(name: string): void {
    const s = this.clusters.get(name);
    if (!s) return;
    const now = this.now();
    let ejected = 0;
    for (const h of s.hosts.values()) {
      if (h.ejectedUntil > now) ejected++;
      else if (h.ejectedUntil > 0) h.ejectedUntil = 0;
      else if (h.times > 0 && h.c5xx === 0 && h.cGateway === 0) h.times--;
    }
    if (ejected !== s.ejected) {
      s.ejected = ejected;
      s.view = undefined;
      this.metrics?.active.set({ cluster_name: name }, ejected);
    }
  }

  /** Keeps state for these clusters (with their policies), drops the rest. Called once per push. */
  retain(clusters: Iterable<Cluster>): void {
    const keep = new Map<string, Cluster>();
    for (const c of clusters) if (c.outlier) keep.set(c.name, c);
    for (const [n, s] of this.clusters) {
      const c = keep.get(n);
      if (!c) {
        if (s.timer) clearInterval(s.timer);
        this.clusters.delete(n);
        this.metrics?.active.remove({ cluster_name: n });
        continue;
      }
      if (c.outlier!.intervalMs !== s.policy.intervalMs) {
        if (s.timer) clearInterval(s.timer);
        s.timer = this.startTimer(n, c.outlier!.intervalMs);
      }
      s.policy = c.outlier!;
      s.view = undefined;
    }
  }

  /** Each endpoint's state, for `meshctl waypoint endpoints`. */
  health(c: Cluster): EndpointHealth[] {
    const s = this.clusters.get(c.name);
    return c.endpoints.map((e) => {
      const h = s?.hosts.get(key(e));
      // Ejected until the sweep returns it (as the balancer sees it).
      const out = h !== undefined && h.ejectedUntil > 0;
      return {
        endpoint: key(e),
        health: out ? 'EJECTED' : 'HEALTHY',
        reason: out ? h.reason : undefined,
        ejectedUntil: out ? new Date(h.ejectedUntil).toISOString() : undefined,
        timesEjected: h?.times ?? 0,
        consecutive5xx: h?.c5xx ?? 0,
        consecutiveGatewayErrors: h?.cGateway ?? 0,
      };
    });
  }

  close(): void {
    for (const s of this.clusters.values()) if (s.timer) clearInterval(s.timer);
    this.clusters.clear();
  }

  private cluster(name: string, policy: OutlierPolicy): ClusterState {
    let s = this.clusters.get(name);
    if (!s) {
      s = { hosts: new Map(), policy, timer: undefined, view: undefined, viewOf: undefined, ejected: 0 };
      this.clusters.set(name, s);
      s.timer = this.startTimer(name, policy.intervalMs);
    }
    return s;
  }

  private startTimer(name: string, ms: number): NodeJS.Timeout {
    const t = setInterval(() => this.sweep(name), Math.max(10, ms));
    t.unref();
    return t;
  }
}
