import type { Duplex } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import type { Credentials } from './credentials.js';
import { HboneConnection, type HboneStream } from './connection.js';
import { HboneError } from './errors.js';
import { newTraceparent } from './headers.js';
import { HBONE_DEFAULTS, hboneImpl, type HboneImpl } from './settings.js';
import { SessionKeeper, type KeptSession } from './session-keeper.js';

export interface TunnelRequest {
  /** Our identity for this tunnel (the source workload's credentials). */
  source: Credentials;
  /** The HBONE server: the destination node's ztunnel (port 15008) or a waypoint. */
  host: string;
  port: number;
  /** SPIFFE URIs the server may present (the destination workload's, or the waypoint's). */
  expectedIdentities: readonly string[];
  /** CONNECT `:authority`: `ip:port` of the destination (a service VIP:port toward a waypoint). */
  target: string;
  /** `forwarded` header value (see headers.ts `forwardedFor`). */
  forwarded?: string;
  /** `baggage` header value (see headers.ts `baggage`). */
  baggage?: string;
  /** `traceparent`; a fresh random one when absent. */
  traceparent?: string;
  /** Source address of the HBONE connection (part of the pool key). */
  localAddress?: string;
  /** Makes the TCP connection (e.g. inside the source pod's network namespace); part of the key via `localAddress`. */
  dial?: (host: string, port: number) => Duplex;
}

export interface PoolOptions {
  logger?: Logger;
  registry?: Registry;
  trustDomains?: readonly string[];
  maxStreamsPerConnection?: number;
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
  streamWindow?: number;
  connectionWindow?: number;
  /** HTTP/2 implementation (default: HBONE_IMPL, else node). */
  impl?: HboneImpl;
}

interface Slot {
  conn: HboneConnection | undefined;
  ready: Promise<HboneConnection>;
  /** Streams reserved on this connection (open or being opened). */
  reserved: number;
  creds: Credentials;
}

/**
 * The HBONE client pool (undici's Agent → Pool → Client layering, flattened to a map of slots):
 * one set of connections per key (source identity, expected destination identities, server address),
 * a connection carries up to `maxStreamsPerConnection` CONNECT streams before another is opened,
 * connections idle for `idleTimeoutMs` are released, and a PING keepalive drops dead ones.
 *
 * Certificates can be replaced at any time: a connection made with older credentials for the same
 * identity takes no new streams (its open tunnels go on undisturbed); the next tunnel opens a new
 * connection with the new certificate.
 */
export class HbonePool {
  private readonly slots = new Map<string, Slot[]>();
  private readonly opts: PoolOptions;
  private readonly log: Logger;
  private readonly keeper: SessionKeeper;
  private readonly maxStreams: number;
  private readonly connectTimeoutMs: number;
  private closed = false;
  private readonly impl: HboneImpl;
  private readonly connections: Gauge | undefined;
  private readonly opened: Counter | undefined;

  constructor(opts: PoolOptions = {}) {
    this.opts = opts;
    this.impl = hboneImpl(opts.impl);
    this.log = opts.logger ?? silentLogger();
    this.maxStreams = opts.maxStreamsPerConnection ?? HBONE_DEFAULTS.poolMaxStreamsPerConnection;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? HBONE_DEFAULTS.connectTimeoutMs;
    this.keeper = new SessionKeeper({
      intervalMs: opts.keepaliveIntervalMs ?? HBONE_DEFAULTS.keepaliveIntervalMs,
      timeoutMs: opts.keepaliveTimeoutMs ?? HBONE_DEFAULTS.keepaliveTimeoutMs,
      idleMs: opts.idleTimeoutMs ?? HBONE_DEFAULTS.poolIdleTimeoutMs,
      onIdle: (s) => {
        this.log.debug('hbone pool: releasing idle connection');
        s.close();
      },
      onDead: (s) => {
        this.log.warn('hbone pool: keepalive PING unanswered; dropping connection');
        s.destroy();
      },
    });
    if (opts.registry) {
      this.connections = new Gauge({
        name: 'hbone_pool_connections',
        help: 'Open HBONE client connections in the pool',
        registers: [opts.registry],
      });
      this.opened = new Counter({
        name: 'hbone_pool_connections_opened_total',
        help: 'HBONE client connections opened by the pool',
        registers: [opts.registry],
      });
    }
  }

  /** Open connections across all keys. */
  get connectionCount(): number {
    let n = 0;
    for (const list of this.slots.values()) for (const s of list) if (s.conn?.usable) n++;
    return n;
  }

  /**
   * Opens a tunnel: a CONNECT stream to `req.target` on a pooled connection to `req.host:req.port`.
   * Resolves once the server answered 200; rejects with an HboneError otherwise.
   */
  async connect(req: TunnelRequest): Promise<HboneStream> {
    try {
      return await this.connectOnce(req);
    } catch (err) {
      // The server was going away (GOAWAY: a draining or restarting peer) and never answered this
      // CONNECT, so it did not act on it: one more try, on a new connection.
      if (!(err instanceof HboneError) || !err.unanswered || this.closed) throw err;
      return this.connectOnce(req);
    }
  }

  private async connectOnce(req: TunnelRequest): Promise<HboneStream> {
    if (this.closed) throw new HboneError('HBONE_ERR_CLOSED', 'HBONE pool is closed');
    const key = poolKey(req);
    const slot = this.acquire(key, req);
    let conn: HboneConnection;
    try {
      conn = await slot.ready;
    } catch (err) {
      slot.reserved--;
      throw err;
    }
    const headers: Record<string, string> = { traceparent: req.traceparent ?? newTraceparent() };
    if (req.forwarded) headers.forwarded = req.forwarded;
    if (req.baggage) headers.baggage = req.baggage;
    try {
      const stream = await conn.open(req.target, headers, this.connectTimeoutMs);
      stream.once('close', () => this.release(slot));
      return stream;
    } catch (err) {
      this.release(slot);
      // Unanswered on a connection that is closing now: the peer sent GOAWAY before our stream.
      if (
        err instanceof HboneError &&
        err.code !== 'HBONE_ERR_STATUS' &&
        err.code !== 'HBONE_ERR_TIMEOUT' &&
        !conn.usable
      )
        err.unanswered = true;
      throw err;
    }
  }

  /** Closes every connection now (open tunnels are reset). */
  close(): void {
    this.closed = true;
    for (const list of this.slots.values()) for (const s of list) s.conn?.destroy();
    this.slots.clear();
    this.keeper.stop();
  }

  private release(slot: Slot): void {
    slot.reserved--;
    if (slot.reserved === 0 && slot.conn) this.keeper.setIdle(slot.conn.session, true);
  }

  private acquire(key: string, req: TunnelRequest): Slot {
    let list = this.slots.get(key);
    if (!list) {
      list = [];
      this.slots.set(key, list);
    }
    for (const s of list) {
      if (s.creds === req.source && s.reserved < this.maxStreams && (s.conn === undefined || s.conn.usable)) {
        s.reserved++;
        if (s.conn && s.reserved === 1) this.keeper.setIdle(s.conn.session, false);
        return s;
      }
    }
    const slot: Slot = {
      conn: undefined,
      ready: undefined as unknown as Promise<HboneConnection>,
      reserved: 1,
      creds: req.source,
    };
    slot.ready = HboneConnection.connect({
      credentials: req.source,
      host: req.host,
      port: req.port,
      expectedIdentities: req.expectedIdentities,
      trustDomains: this.opts.trustDomains,
      connectTimeoutMs: this.connectTimeoutMs,
      localAddress: req.localAddress,
      socket: req.dial?.(req.host, req.port),
      streamWindow: this.opts.streamWindow,
      connectionWindow: this.opts.connectionWindow,
      impl: this.impl,
    }).then(
      (conn) => {
        slot.conn = conn;
        this.opened?.inc();
        this.connections?.inc();
        this.keeper.add(conn.session);
        if (slot.reserved === 0) this.keeper.setIdle(conn.session, true);
        else this.keeper.setIdle(conn.session, false);
        (conn.session as KeptSession).once('close', () => {
          this.connections?.dec();
          this.remove(key, slot);
        });
        return conn;
      },
      (err: unknown) => {
        this.remove(key, slot);
        throw err;
      },
    );
    // A connection failure is reported to every waiter through `ready`; avoid an unhandled rejection
    // when the last waiter already gave up.
    slot.ready.catch(ignore);
    list.push(slot);
    return slot;
  }

  private remove(key: string, slot: Slot): void {
    const list = this.slots.get(key);
    if (!list) return;
    const i = list.indexOf(slot);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.slots.delete(key);
  }
}

function ignore(): void {}

export function poolKey(req: TunnelRequest): string {
  const ids =
    req.expectedIdentities.length > 1
      ? [...req.expectedIdentities].sort().join(',')
      : (req.expectedIdentities[0] ?? '');
  return `${req.source.uri}|${ids}|${req.host}:${req.port}|${req.localAddress ?? ''}`;
}
