/**
 * Upstream HTTP over connections the caller provides (the waypoint: HBONE tunnels to the endpoint's
 * pod; tests: plain TCP). HTTP/1.1 requests share keep-alive connections per endpoint through the
 * engine's own client (h1-pool.ts), or, with L7_HTTP1_CLIENT=node, through an http.Agent whose sockets
 * come from the connector; HTTP/2 (h2c, gRPC) shares one session per endpoint.
 */
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import http2, { type ClientHttp2Session } from 'node:http2';
import net from 'node:net';
import type { Duplex, Readable } from 'node:stream';
import type { Endpoint } from '../model.js';
import { key } from './balancer.js';
import { H1Pool } from './h1-pool.js';
import { UpstreamError } from './upstream-error.js';

export { UpstreamError, type UpstreamFailure } from './upstream-error.js';

/** Opens a byte stream to an endpoint (HBONE tunnel, TCP). */
export interface Connector {
  connect(ep: Endpoint): Promise<Duplex>;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
  /** Trailers, once the body ended (undefined when none). */
  trailers(): OutgoingHttpHeaders | undefined;
  /** Drops the response (and, for HTTP/1.1, its connection). */
  abort(): void;
}

export interface UpstreamRequest {
  method: string;
  path: string;
  authority: string;
  headers: OutgoingHttpHeaders;
  /** Streamed request body; undefined for none. */
  body: Readable | undefined;
  /** Or the whole body, already read (so the request can be sent again). */
  bytes?: Buffer;
  /** HTTP/1.1: close the connection after this many requests (DestinationRule maxRequestsPerConnection). */
  maxRequestsPerConnection?: number;
  /** Close an upstream connection (HTTP/2: session) idle for this long (DestinationRule idleTimeout). */
  idleTimeoutMs?: number;
  /** A new HTTP/1.1 connection must be up within this (DestinationRule tcp.connectTimeout). */
  connectTimeoutMs?: number;
}

/** Which HTTP/1.1 client carries upstream requests: the engine's own (default) or node:http's. */
export type Http1ClientKind = 'own' | 'node';

export function http1ClientKind(env: NodeJS.ProcessEnv = process.env): Http1ClientKind {
  const v = env.L7_HTTP1_CLIENT;
  if (v === undefined || v === '' || v === 'own') return 'own';
  if (v === 'node') return 'node';
  throw new Error(`L7_HTTP1_CLIENT must be "own" or "node", not "${v}"`);
}

/**
 * Gives a stream the socket methods node:http calls (an HBONE stream has no setNoDelay, ref, ...).
 * Strings written to it (node:http writes its header block as a latin1 string) are turned into Buffers
 * first: an HTTP/2 stream handed a string in a corked writev was seen sending the first bytes of freed
 * memory (the status line overwritten), while Buffers are kept alive until sent.
 */
export function socketLike<T extends Duplex>(s: T): T {
  const o = s as unknown as Record<string | symbol, unknown>;
  if (!(s instanceof net.Socket) && !o[BUFFERED]) {
    o[BUFFERED] = true;
    const write = s.write.bind(s) as (c: unknown, e?: unknown, cb?: unknown) => boolean;
    o.write = (chunk: unknown, enc?: unknown, cb?: unknown): boolean =>
      typeof chunk === 'string'
        ? write(
            Buffer.from(chunk, typeof enc === 'string' ? (enc as BufferEncoding) : 'utf8'),
            typeof enc === 'function' ? enc : cb,
          )
        : write(chunk, enc, cb);
  }
  for (const m of ['setNoDelay', 'setKeepAlive', 'ref', 'unref']) {
    if (typeof o[m] !== 'function') o[m] = returnThis;
  }
  if (typeof o.setTimeout !== 'function') o.setTimeout = returnThis;
  return s;
}

const BUFFERED = Symbol('meshlite.l7.buffered-writes');

/**
 * An upstream tunnel whose far end has ended (the app closed the connection: the far ztunnel sent
 * END_STREAM) is closed at once, as a TCP socket without allowHalfOpen closes: our END_STREAM, and out
 * of the agent's pool ('agentRemove'). Node's http.Agent drops a pooled connection only when it closes
 * (its free-socket timeout is 0; a `Keep-Alive: timeout` hint only shortens a set one), and an HTTP/2
 * stream stays half-open after END_STREAM, so without this a tunnel the app had closed as idle stayed
 * pooled and the next request was written into it and never answered.
 */
function closeOnEnd<T extends Duplex>(s: T): T {
  if (s instanceof net.Socket) return s; // Node already ends a plain TCP socket on FIN.
  s.once('end', endTunnel);
  return s;
}

function endTunnel(this: Duplex): void {
  this.emit('agentRemove');
  if (!this.writableEnded) this.end();
}

function returnThis(this: unknown): unknown {
  return this;
}

interface EndpointOptions {
  meshEndpoint?: Endpoint;
}

class TunnelAgent extends http.Agent {
  /** The idle timeout of the cluster a pooled connection last served (set per request). */
  readonly idleMs = new WeakMap<object, number>();
  private readonly idleTimers = new WeakMap<object, NodeJS.Timeout>();

  constructor(private readonly connector: Connector) {
    super({ keepAlive: true, keepAliveMsecs: 60_000, maxFreeSockets: 64, scheduling: 'lifo' });
    // A connection back in the pool is closed once idle for its cluster's idleTimeout (tunnels have no
    // socket timeout of their own for the agent's `timeout` option to use).
    this.on('free', (socket: Duplex) => {
      const ms = this.idleMs.get(socket);
      if (!ms || socket.destroyed) return;
      clearTimeout(this.idleTimers.get(socket));
      const t = setTimeout(() => socket.destroy(), ms);
      t.unref();
      this.idleTimers.set(socket, t);
    });
  }

  override reuseSocket(socket: Duplex & net.Socket, req: http.ClientRequest): void {
    clearTimeout(this.idleTimers.get(socket));
    this.idleTimers.delete(socket);
    super.reuseSocket(socket, req);
  }

  override createConnection(
    options: http.ClientRequestArgs,
    cb?: (err: Error | null, socket: Duplex) => void,
  ): undefined {
    const ep = (options as EndpointOptions).meshEndpoint;
    const done = cb as (err: Error | null, socket?: Duplex) => void;
    if (!ep) {
      done(new UpstreamError('connect', 'no endpoint given'));
      return undefined;
    }
    this.connector.connect(ep).then(
      (s) => done(null, socketLike(closeOnEnd(s))),
      (err: unknown) =>
        done(new UpstreamError('connect', `connect to ${key(ep)}: ${(err as Error).message ?? String(err)}`)),
    );
    return undefined;
  }
}

export class UpstreamClient {
  private readonly agent: TunnelAgent;
  private readonly pool: H1Pool | undefined;
  private readonly sessions = new Map<string, Promise<ClientHttp2Session>>();
  private readonly served = new WeakMap<object, number>();
  /** Whether any cluster has had an idle timeout (until then no per-request bookkeeping). */
  private idleUsed = false;

  constructor(
    private readonly connector: Connector,
    kind: Http1ClientKind = http1ClientKind(),
  ) {
    this.agent = new TunnelAgent(connector);
    this.pool = kind === 'own' ? new H1Pool(connector) : undefined;
  }

  request(ep: Endpoint, proto: 'http1' | 'http2', r: UpstreamRequest): Promise<UpstreamResponse> {
    if (proto === 'http2') return this.h2(ep, r);
    return this.pool ? this.pool.request(ep, r) : this.h1(ep, r);
  }

  close(): void {
    this.pool?.close();
    this.agent.destroy();
    for (const s of this.sessions.values()) s.then((x) => x.destroy(), ignore);
    this.sessions.clear();
  }

  private h1(ep: Endpoint, r: UpstreamRequest): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      const headers = { ...r.headers, host: r.authority };
      const opts: http.RequestOptions & EndpointOptions = {
        agent: this.agent,
        host: ep.ip,
        port: ep.port,
        method: r.method,
        path: r.path,
        headers,
        setHost: false,
        meshEndpoint: ep,
      };
      const req = http.request(opts);
      // The pooled connection takes the idle timeout of the cluster it serves now (or none).
      const idle = r.idleTimeoutMs;
      if (idle) this.idleUsed = true;
      if (this.idleUsed)
        req.once('socket', (s) => (idle ? this.agent.idleMs.set(s, idle) : this.agent.idleMs.delete(s)));
      const limit = r.maxRequestsPerConnection;
      if (limit) {
        req.once('socket', (s) => {
          const n = (this.served.get(s) ?? 0) + 1;
          this.served.set(s, n);
          if (n >= limit) req.shouldKeepAlive = false;
        });
      }
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        resolve({
          status: res.statusCode ?? 502,
          headers: res.headers,
          body: res,
          trailers: () => (Object.keys(res.trailers).length ? res.trailers : undefined),
          abort: () => res.destroy(),
        });
      });
      req.on('error', (err: Error) => {
        if (answered) return;
        reject(err instanceof UpstreamError ? err : new UpstreamError('reset', err.message));
      });
      if (r.body) r.body.pipe(req);
      else req.end(r.bytes);
    });
  }

  private session(ep: Endpoint, idleTimeoutMs?: number): Promise<ClientHttp2Session> {
    const k = key(ep);
    let s = this.sessions.get(k);
    if (s) return s;
    s = this.connector.connect(ep).then(
      (sock) =>
        new Promise<ClientHttp2Session>((resolve, reject) => {
          const session = http2.connect(`http://${k}`, {
            createConnection: () => socketLike(closeOnEnd(sock)),
          });
          session.once('connect', () => resolve(session));
          // No frames either way for idleTimeout (so no stream open): close it; the next request opens anew.
          if (idleTimeoutMs) session.setTimeout(idleTimeoutMs, () => session.close());
          session.once('error', (err) => reject(new UpstreamError('connect', err.message)));
          session.once('close', () => this.sessions.delete(k));
          session.once('goaway', () => this.sessions.delete(k));
          session.on('error', ignore);
        }),
      (err: unknown) => {
        throw new UpstreamError('connect', `connect to ${k}: ${(err as Error).message ?? String(err)}`);
      },
    );
    s.catch(() => this.sessions.delete(k));
    this.sessions.set(k, s);
    return s;
  }

  private async h2(ep: Endpoint, r: UpstreamRequest): Promise<UpstreamResponse> {
    const session = await this.session(ep, r.idleTimeoutMs);
    return new Promise((resolve, reject) => {
      const headers: OutgoingHttpHeaders = {
        ...r.headers,
        ':method': r.method,
        ':path': r.path,
        ':authority': r.authority,
        ':scheme': 'http',
      };
      let stream;
      try {
        stream = session.request(headers, { endStream: r.body === undefined && r.bytes === undefined });
      } catch (err) {
        this.sessions.delete(key(ep));
        reject(new UpstreamError('reset', (err as Error).message));
        return;
      }
      let trailers: OutgoingHttpHeaders | undefined;
      let answered = false;
      stream.on('trailers', (t) => (trailers = t));
      stream.once('response', (h) => {
        answered = true;
        const status = Number(h[':status'] ?? 502);
        resolve({
          status,
          headers: h,
          body: stream,
          trailers: () => trailers,
          abort: () => stream.close(http2.constants.NGHTTP2_CANCEL),
        });
      });
      stream.on('error', (err: Error) => {
        if (answered) return;
        reject(new UpstreamError('reset', err.message));
      });
      stream.once('close', () => {
        if (answered) return;
        const refused = stream.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
        reject(new UpstreamError(refused ? 'refused' : 'reset', `stream closed (code ${stream.rstCode})`));
      });
      if (r.body) r.body.pipe(stream);
      else if (r.bytes) stream.end(r.bytes);
    });
  }
}

function ignore(): void {}
