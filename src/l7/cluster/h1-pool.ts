/**
 * The engine's own HTTP/1.1 upstream client: keep-alive connections per endpoint over whatever byte
 * stream the connector gives (an HBONE tunnel, plain TCP), one request at a time on each. It replaces
 * node:http's ClientRequest + Agent on the hot path (see docs/waypoint.md, "Upstream HTTP/1.1").
 *
 * connectionPool semantics, with the limits themselves held by the cluster's circuit breakers
 * (maxConnections, pending): a request takes the most recently used idle connection of its endpoint
 * or opens one; the connection goes back after its response when both sides allow it, at most
 * `maxRequestsPerConnection` times (the last request says `connection: close`); an idle connection
 * is closed after the cluster's idleTimeout; opening one fails after its connectTimeout. An idle
 * connection the server closes is dropped at once; when a request written onto a reused connection
 * meets the server's close before any response byte, it is sent once more on a fresh connection if it
 * can be (no streamed body), as browsers and node:http's agent users do.
 */
import type { Duplex } from 'node:stream';
import type { Endpoint } from '../model.js';
import { chooseFraming, RequestHeadError } from '../http1/request-head.js';
import { key } from './balancer.js';
import { H1Connection, H1Exchange, type ConnectionOwner } from './h1-connection.js';
import { UpstreamError } from './upstream-error.js';
import type { Connector, UpstreamRequest, UpstreamResponse } from './upstream.js';

/** Idle connections kept per endpoint (node:http's agent kept 64 too). */
const MAX_IDLE = 64;
/** Idle timeout when the cluster sets none (Envoy's default for upstream HTTP connections: 1 h). */
const DEFAULT_IDLE_MS = 3_600_000;

export interface H1PoolOptions {
  /** Largest response head accepted (bytes); Envoy's default is 60 KiB. */
  maxHeadBytes?: number;
}

export class H1Pool implements ConnectionOwner {
  private readonly idle = new Map<string, H1Connection[]>();
  private readonly all = new Set<H1Connection>();
  private readonly endpoints = new WeakMap<H1Exchange, Endpoint>();
  private closed = false;

  constructor(
    private readonly connector: Connector,
    private readonly o: H1PoolOptions = {},
  ) {}

  /** Connections open now (idle and busy), for tests and debug views. */
  get size(): number {
    return this.all.size;
  }

  /** Idle connections of an endpoint now. */
  idleCount(ep: Endpoint): number {
    return this.idle.get(key(ep))?.length ?? 0;
  }

  request(ep: Endpoint, r: UpstreamRequest): Promise<UpstreamResponse> {
    const framing = chooseFraming(r.headers, r.body !== undefined, r.bytes);
    if (framing instanceof RequestHeadError)
      return Promise.reject(new UpstreamError('reset', framing.message));
    return new Promise((resolve, reject) => {
      const x = new H1Exchange(r, framing, key(ep), resolve, reject);
      this.endpoints.set(x, ep);
      this.dispatch(ep, x, false);
    });
  }

  close(): void {
    this.closed = true;
    for (const c of [...this.all]) c.destroy();
    this.idle.clear();
  }

  // ConnectionOwner

  released(c: H1Connection, reusable: boolean): void {
    if (!reusable || this.closed) {
      c.destroy();
      return;
    }
    let list = this.idle.get(c.key);
    if (!list) this.idle.set(c.key, (list = []));
    if (list.length >= MAX_IDLE) {
      c.destroy();
      return;
    }
    list.push(c);
    c.idleSince = performance.now();
    if (!c.idleTimer) this.armIdle(c, c.idleMs || DEFAULT_IDLE_MS);
  }

  gone(c: H1Connection): void {
    this.all.delete(c);
    if (c.idleTimer) {
      clearTimeout(c.idleTimer);
      c.idleTimer = undefined;
    }
    const list = this.idle.get(c.key);
    if (!list) return;
    const i = list.indexOf(c);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.idle.delete(c.key);
  }

  retry(x: H1Exchange): boolean {
    const ep = this.endpoints.get(x);
    if (!ep || this.closed) return false;
    x.retried = true;
    this.dispatch(ep, x, true);
    return true;
  }

  private dispatch(ep: Endpoint, x: H1Exchange, fresh: boolean): void {
    const r = x.r;
    const c = fresh ? undefined : this.takeIdle(x.key);
    if (c) {
      c.idleMs = r.idleTimeoutMs ?? 0;
      c.send(x, true, r.maxRequestsPerConnection);
      return;
    }
    this.open(ep, x).then(
      (socket) => {
        if (this.closed) {
          socket.destroy();
          x.reject(new UpstreamError('reset', 'the upstream client closed'));
          return;
        }
        const conn = new H1Connection(socket, x.key, this, this.o.maxHeadBytes);
        this.all.add(conn);
        conn.idleMs = r.idleTimeoutMs ?? 0;
        conn.send(x, false, r.maxRequestsPerConnection);
      },
      (err: unknown) => x.reject(err as Error),
    );
  }

  /** The most recently used idle connection still open (LIFO keeps the others idle long enough to close). */
  private takeIdle(k: string): H1Connection | undefined {
    const list = this.idle.get(k);
    if (!list) return undefined;
    while (list.length > 0) {
      const c = list.pop()!;
      if (c.usable) {
        if (list.length === 0) this.idle.delete(k);
        return c;
      }
      c.destroy();
    }
    this.idle.delete(k);
    return undefined;
  }

  /** Opens a byte stream to the endpoint within the cluster's connectTimeout. */
  private open(ep: Endpoint, x: H1Exchange): Promise<Duplex> {
    const p = this.connector.connect(ep);
    const ms = x.r.connectTimeoutMs;
    const fail = (err: unknown): never => {
      throw err instanceof UpstreamError
        ? err
        : new UpstreamError('connect', `connect to ${x.key}: ${(err as Error)?.message ?? String(err)}`);
    };
    if (!ms) return p.then(undefined, fail);
    return new Promise<Duplex>((resolve, reject) => {
      let late = false;
      const t = setTimeout(() => {
        late = true;
        reject(
          new UpstreamError('connect', `connect to ${x.key}: no connection within ${ms} ms (connectTimeout)`),
        );
      }, ms);
      p.then(
        (s) => {
          clearTimeout(t);
          if (late) s.destroy();
          else resolve(s);
        },
        (err: unknown) => {
          clearTimeout(t);
          if (!late) {
            try {
              fail(err);
            } catch (e) {
              reject(e as Error);
            }
          }
        },
      );
    });
  }

  /** Closes `c` once it has been idle for `ms`; one timer per connection, re-armed only when it fires early. */
  private armIdle(c: H1Connection, ms: number): void {
    c.idleTimer = setTimeout(() => {
      c.idleTimer = undefined;
      if (c.closed || c.busy) return;
      const idleMs = c.idleMs || DEFAULT_IDLE_MS;
      const left = c.idleSince + idleMs - performance.now();
      if (left > 1) this.armIdle(c, left);
      else c.destroy();
    }, ms);
    c.idleTimer.unref();
  }
}
