/**
 * Envoy's circuit breakers per cluster from DestinationRule connectionPool: requests in flight
 * (http2MaxRequests), HTTP/1.1 requests holding a connection (tcp.maxConnections, one request per
 * connection at a time) with at most http1MaxPendingRequests waiting for one, and retries in flight
 * (maxRetries). Above a limit the answer is at once: overflow (503 UO), never a growing queue.
 * State is keyed by cluster name and survives config pushes; limits are read from each request's cluster.
 */
import type { Counter } from 'prom-client';
import type { Cluster } from '../model.js';

interface Waiter {
  resolve(slot: Slot | undefined): void;
  cancelled: boolean;
}

interface State {
  requests: number;
  connections: number;
  retries: number;
  pending: Waiter[];
}

/** A held place in a cluster; release it exactly once when the request (its response too) is over. */
export interface Slot {
  release(): void;
}

export type OverflowKind = 'requests' | 'pending' | 'retries';

export class CircuitBreakers {
  private readonly states = new Map<string, State>();

  constructor(private readonly overflows?: Counter<'cluster_name' | 'kind'>) {}

  /**
   * A place for one request: a Slot now, a promise of one when it waits in the pending queue, or
   * undefined on overflow (the caller answers 503 UO).
   */
  admit(c: Cluster, http1: boolean): Slot | Promise<Slot | undefined> | undefined {
    const p = c.connectionPool;
    if (!p) return NO_LIMIT;
    const s = this.state(c.name);
    if (p.maxRequests !== undefined && s.requests >= p.maxRequests) return this.overflow(c, 'requests');
    const connLimited = http1 && p.maxConnections !== undefined;
    if (connLimited && s.connections >= p.maxConnections!) {
      if (s.pending.length >= (p.maxPendingRequests ?? Infinity)) return this.overflow(c, 'pending');
      return new Promise<Slot | undefined>((resolve) => s.pending.push({ resolve, cancelled: false }));
    }
    return this.take(s, connLimited);
  }

  /** A place for one retry; undefined when maxRetries are already in flight (the retry is skipped). */
  retry(c: Cluster): Slot | undefined {
    const max = c.connectionPool?.maxRetries;
    if (max === undefined) return NO_LIMIT;
    const s = this.state(c.name);
    if (s.retries >= max) {
      this.overflow(c, 'retries');
      return undefined;
    }
    s.retries++;
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        s.retries--;
      },
    };
  }

  /** Drops the state of clusters no longer configured (idle ones only). */
  retain(names: Set<string>): void {
    for (const [n, s] of this.states)
      if (!names.has(n) && s.requests === 0 && s.pending.length === 0 && s.retries === 0)
        this.states.delete(n);
  }

  /** Current counts, for debug views. */
  snapshot(name: string): { requests: number; connections: number; pending: number; retries: number } {
    const s = this.states.get(name);
    return s
      ? { requests: s.requests, connections: s.connections, pending: s.pending.length, retries: s.retries }
      : { requests: 0, connections: 0, pending: 0, retries: 0 };
  }

  private state(name: string): State {
    let s = this.states.get(name);
    if (!s) this.states.set(name, (s = { requests: 0, connections: 0, retries: 0, pending: [] }));
    return s;
  }

  private overflow(c: Cluster, kind: OverflowKind): undefined {
    this.overflows?.inc({ cluster_name: c.name, kind });
    return undefined;
  }

  private take(s: State, connection: boolean): Slot {
    s.requests++;
    if (connection) s.connections++;
    let done = false;
    return {
      release: () => {
        if (done) return;
        done = true;
        s.requests--;
        if (!connection) return;
        s.connections--;
        // The freed connection goes to the oldest waiter still there.
        while (s.pending.length > 0) {
          const w = s.pending.shift()!;
          if (w.cancelled) continue;
          w.resolve(this.take(s, true));
          return;
        }
      },
    };
  }
}

const NO_LIMIT: Slot = { release() {} };
