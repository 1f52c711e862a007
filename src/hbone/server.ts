import http2, {
  type Http2Server,
  type ServerHttp2Session,
  type ServerHttp2Stream,
  type IncomingHttpHeaders,
} from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import { Drain, type DrainResult } from '../common/drain.js';
import { errorMessage } from '../common/errors.js';
import { HBONE_DEFAULTS, hboneImpl, type HboneImpl } from './settings.js';
import { H2Session } from './h2/session.js';
import type { H2Stream } from './h2/stream.js';
import type { CertSource, Credentials } from './credentials.js';
import { checkPeer } from './peer.js';
import { parseAuthority } from './authority.js';
import { HboneRequest } from './request.js';
import { SessionKeeper } from './session-keeper.js';
import { readIntoReusedBuffer } from './h2/reused-reads.js';
import type { SpiffeId } from '../pki/spiffe.js';

export interface HboneServerOptions {
  /**
   * Identity presented to clients, unless `credentialsFor` or the caller of `handleConnection` picks
   * one per connection. Optional when every connection comes with its credentials.
   */
  certs?: CertSource;
  /** Per-connection choice of identity (e.g. by the local address a shared listener was reached on). */
  credentialsFor?: (socket: Duplex) => Credentials | undefined;
  /** Trust domains accepted for peers; default: the trust domain of `certs`. */
  trustDomains?: readonly string[];
  /** Receives every well-formed CONNECT from an authenticated peer. */
  onRequest: (req: HboneRequest) => void;
  logger?: Logger;
  registry?: Registry;
  maxConcurrentStreams?: number;
  maxHeaderListSize?: number;
  streamWindow?: number;
  connectionWindow?: number;
  maxFrameSize?: number;
  maxSessionMemoryMb?: number;
  handshakeTimeoutMs?: number;
  idleTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveTimeoutMs?: number;
  /** HTTP/2 implementation (default: HBONE_IMPL, else node). */
  impl?: HboneImpl;
}

type AnyServerSession = ServerHttp2Session | H2Session;
/** A server CONNECT stream of either implementation. */
export type HboneServerStream = ServerHttp2Stream | H2Stream;

interface PeerInfo {
  id: SpiffeId;
  uri: string;
  local: Credentials;
  remoteAddress: string | undefined;
  remotePort: number | undefined;
  streams: number;
  context: unknown;
}

/** Reasons a connection or stream is refused, as metric label values. */
export type RefusalReason =
  | 'not_tls'
  | 'no_client_cert'
  | 'untrusted_cert'
  | 'expired_cert'
  | 'tls_handshake'
  | 'handshake_timeout'
  | 'no_alpn_h2'
  | 'bad_identity'
  | 'not_connect'
  | 'bad_authority'
  | 'headers_too_large';

/**
 * The HBONE server: TLS 1.3 with a required client certificate, ALPN h2, HTTP/2 CONNECT streams.
 *
 * Sockets reach it either through `listen()` or through `handleConnection()` (for listeners owned
 * elsewhere — per-pod listeners inside pod network namespaces — and for nested tunnels, where the
 * "socket" is itself an HBONE stream). TLS runs in a tls.Server per identity (never listening; fed
 * sockets), and authenticated connections are handed to one plain-text HTTP/2 server, so one
 * process can present a different identity per connection.
 */
export class HboneServer {
  private readonly opts: HboneServerOptions;
  private readonly log: Logger;
  private readonly h2: Http2Server;
  private readonly tlsServers = new WeakMap<Credentials, tls.Server>();
  private readonly peers = new WeakMap<AnyServerSession, PeerInfo>();
  /** Caller context per raw socket (e.g. which pod's listener accepted it), handed to each request. */
  private readonly contexts = new WeakMap<object, unknown>();
  private readonly sessions = new Set<AnyServerSession>();
  private readonly keeper: SessionKeeper<AnyServerSession>;
  private readonly impl: HboneImpl;
  private readonly drainer = new Drain();
  private readonly trustDomains: ReadonlySet<string>;
  private pendingPeer: PeerInfo | undefined;
  private listener: net.Server | undefined;
  private readonly refused: Counter<'reason'> | undefined;
  private readonly activeStreams: Gauge | undefined;
  private readonly connectionWindow: number;
  private readonly handshakeTimeoutMs: number;
  private readonly maxHeaderListSize: number;

  constructor(opts: HboneServerOptions) {
    this.opts = opts;
    this.impl = hboneImpl(opts.impl);
    this.log = opts.logger ?? silentLogger();
    const td = opts.trustDomains ?? [opts.certs?.current().id?.trustDomain ?? 'cluster.local'];
    this.trustDomains = new Set(td);
    this.connectionWindow = opts.connectionWindow ?? HBONE_DEFAULTS.connectionWindow;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? HBONE_DEFAULTS.handshakeTimeoutMs;
    this.maxHeaderListSize = opts.maxHeaderListSize ?? HBONE_DEFAULTS.maxHeaderListSize;
    this.h2 = http2.createServer({
      maxSessionMemory: opts.maxSessionMemoryMb ?? HBONE_DEFAULTS.maxSessionMemoryMb,
      settings: {
        initialWindowSize: opts.streamWindow ?? HBONE_DEFAULTS.streamWindow,
        maxFrameSize: opts.maxFrameSize ?? HBONE_DEFAULTS.maxFrameSize,
        maxConcurrentStreams: opts.maxConcurrentStreams ?? HBONE_DEFAULTS.maxConcurrentStreams,
        maxHeaderListSize: this.maxHeaderListSize,
        enablePush: false,
      },
      maxHeaderListPairs: 128,
    });
    this.h2.on('session', this.onSession.bind(this));
    this.h2.on('stream', this.onStream.bind(this));
    this.keeper = new SessionKeeper<AnyServerSession>({
      intervalMs: opts.keepaliveIntervalMs ?? HBONE_DEFAULTS.keepaliveIntervalMs,
      timeoutMs: opts.keepaliveTimeoutMs ?? HBONE_DEFAULTS.keepaliveTimeoutMs,
      idleMs: opts.idleTimeoutMs ?? HBONE_DEFAULTS.serverIdleTimeoutMs,
      onIdle: (s) => {
        this.log.debug({ peer: this.peers.get(s)?.uri }, 'hbone: closing idle connection');
        s.close();
      },
      onDead: (s) => {
        this.log.warn(
          { peer: this.peers.get(s)?.uri },
          'hbone: keepalive PING unanswered; dropping connection',
        );
        s.destroy();
      },
    });
    if (opts.registry) {
      this.refused = new Counter({
        name: 'hbone_server_refused_total',
        help: 'HBONE connections and streams refused by the server, by reason',
        labelNames: ['reason'],
        registers: [opts.registry],
      });
      this.activeStreams = new Gauge({
        name: 'hbone_server_active_streams',
        help: 'Open HBONE CONNECT streams on this server',
        registers: [opts.registry],
      });
    }
    this.drainer.onDrain(() => {
      this.listener?.close();
      for (const s of this.sessions) if (!s.closed) s.close();
    });
    this.drainer.onForce(() => {
      for (const s of this.sessions) s.destroy();
    });
  }

  /** Listens on `port` (15008 by default in the mesh). Resolves with the bound address. */
  listen(port: number, host?: string): Promise<AddressInfo> {
    const srv = net.createServer({ noDelay: true }, (socket) => this.handleConnection(socket));
    this.listener = srv;
    return new Promise((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        resolve(srv.address() as AddressInfo);
      });
    });
  }

  get address(): AddressInfo | undefined {
    return (this.listener?.address() as AddressInfo | null) ?? undefined;
  }

  /** Open HTTP/2 connections. */
  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Open CONNECT streams. */
  get streamCount(): number {
    return this.drainer.active;
  }

  /** Accepts a connection from a listener owned elsewhere, or an HBONE stream (nested tunnel). */
  handleConnection(socket: Duplex, credentials?: Credentials, context?: unknown): void {
    if (this.drainer.isDraining) {
      socket.destroy();
      return;
    }
    const creds = credentials ?? this.opts.credentialsFor?.(socket) ?? this.opts.certs?.current();
    if (!creds) {
      this.log.warn('hbone: no identity to present on this connection; closing it');
      socket.destroy();
      return;
    }
    if (context !== undefined) this.contexts.set(socket, context);
    this.tlsServerFor(creds).emit('connection', socket);
  }

  /** Stops accepting, sends GOAWAY, lets open streams finish until the deadline, then closes. */
  drain(deadlineMs: number): Promise<DrainResult> {
    return this.drainer.start(deadlineMs);
  }

  /** Closes everything now. */
  async close(): Promise<void> {
    await this.drain(0);
    this.keeper.stop();
    for (const s of this.sessions) s.destroy();
  }

  private tlsServerFor(creds: Credentials): tls.Server {
    let srv = this.tlsServers.get(creds);
    if (srv) return srv;
    srv = tls.createServer({
      ...creds.tlsOptions(),
      requestCert: true,
      // Verification failures are checked in admit(): with Node's own rejection the reason (expired,
      // unknown CA, ...) is lost, and refusals must say what was wrong. Nothing unverified gets past
      // admit(), which requires `authorized`.
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      handshakeTimeout: this.handshakeTimeoutMs,
    });
    srv.on('secureConnection', (sock: TLSSocket) => this.admit(sock, creds));
    srv.on('tlsClientError', (err: Error & { code?: string }, sock: TLSSocket) => this.onTlsError(err, sock));
    this.tlsServers.set(creds, srv);
    return srv;
  }

  private refuse(reason: RefusalReason): void {
    this.refused?.inc({ reason });
  }

  private onTlsError(err: Error & { code?: string }, sock: TLSSocket): void {
    const reason = classifyTlsError(err);
    this.refuse(reason);
    this.log.warn(
      {
        remote: sock.remoteAddress ? `${sock.remoteAddress}:${sock.remotePort}` : undefined,
        reason,
        err: err.code,
      },
      `hbone: refused connection: ${describeRefusal(reason)} (${errorMessage(err)})`,
    );
    sock.destroy();
  }

  private admit(sock: TLSSocket, local: Credentials): void {
    const remote = sock.remoteAddress ? `${sock.remoteAddress}:${sock.remotePort}` : undefined;
    if (sock.authorized !== true) {
      const hasCert = sock.getPeerX509Certificate() !== undefined;
      const code = String(sock.authorizationError ?? '');
      const reason: RefusalReason = !hasCert
        ? 'no_client_cert'
        : /EXPIRED|NOT_YET_VALID/.test(code)
          ? 'expired_cert'
          : 'untrusted_cert';
      this.refuse(reason);
      this.log.warn(
        { remote, reason, err: code || undefined },
        `hbone: refused connection: ${describeRefusal(reason)}${code ? ` (${code})` : ''}`,
      );
      sock.destroy();
      return;
    }
    if (sock.alpnProtocol !== 'h2') {
      this.refuse('no_alpn_h2');
      this.log.warn(
        { remote, reason: 'no_alpn_h2' },
        'hbone: refused connection: the client did not negotiate ALPN h2',
      );
      sock.destroy();
      return;
    }
    const check = checkPeer(sock, this.trustDomains);
    if (!check.ok) {
      this.refuse('bad_identity');
      this.log.warn({ remote, reason: 'bad_identity' }, `hbone: refused connection: ${check.reason}`);
      sock.destroy();
      return;
    }
    if (sock instanceof net.Socket) sock.setNoDelay(true);
    this.pendingPeer = {
      id: check.id,
      uri: check.uri,
      local,
      remoteAddress: sock.remoteAddress,
      remotePort: sock.remotePort,
      streams: 0,
      context: this.contextOf(sock),
    };
    if (this.impl === 'own') {
      this.ownSession(sock, this.pendingPeer);
      this.pendingPeer = undefined;
      return;
    }
    try {
      this.h2.emit('connection', sock);
    } finally {
      this.pendingPeer = undefined;
    }
  }

  /** The context given to handleConnection for the raw socket under this TLS socket. */
  private contextOf(sock: TLSSocket): unknown {
    const raw = (sock as TLSSocket & { _parent?: object; ssl?: unknown })._parent;
    return raw ? this.contexts.get(raw) : undefined;
  }

  /** Our own HTTP/2 framer on the authenticated TLS socket (HBONE_IMPL=own). */
  private ownSession(sock: TLSSocket, peer: PeerInfo): void {
    const o = this.opts;
    const session = new H2Session(sock, true, {
      streamWindow: o.streamWindow ?? HBONE_DEFAULTS.streamWindow,
      connectionWindow: this.connectionWindow,
      maxFrameSize: o.maxFrameSize ?? HBONE_DEFAULTS.maxFrameSize,
      maxConcurrentStreams: o.maxConcurrentStreams ?? HBONE_DEFAULTS.maxConcurrentStreams,
      maxHeaderListSize: this.maxHeaderListSize,
      externalReads: true,
    });
    if (!readIntoReusedBuffer(sock, READ_BUFFER, session.onRead)) session.readFromEvents();
    this.peers.set(session, peer);
    this.sessions.add(session);
    session.on('stream', (stream: H2Stream, headers: IncomingHttpHeaders) => this.onStream(stream, headers));
    session.once('close', () => {
      this.sessions.delete(session);
      if (session.lastError)
        this.log.warn(
          { peer: peer.uri, err: session.lastError },
          'hbone: connection closed on an HTTP/2 error',
        );
    });
    this.keeper.add(session);
  }

  private onSession(session: ServerHttp2Session): void {
    const peer = this.pendingPeer;
    if (!peer) {
      session.destroy();
      return;
    }
    this.peers.set(session, peer);
    this.sessions.add(session);
    session.on('error', (err) =>
      this.log.debug({ peer: peer.uri, err: errorMessage(err) }, 'hbone: connection error'),
    );
    session.once('close', () => this.sessions.delete(session));
    try {
      session.setLocalWindowSize(this.connectionWindow);
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'hbone: could not raise the connection window');
    }
    this.keeper.add(session);
  }

  private onStream(stream: HboneServerStream, headers: IncomingHttpHeaders): void {
    stream.on('error', ignore);
    const session = stream.session as AnyServerSession | undefined;
    const peer = session ? this.peers.get(session) : undefined;
    if (!peer || !session) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    if (headers[':method'] !== 'CONNECT') {
      this.refuse('not_connect');
      this.log.warn(
        { peer: peer.uri, method: headers[':method'] },
        `hbone: refused stream: method ${String(headers[':method'])} is not CONNECT`,
      );
      stream.respond({ ':status': 400 }, { endStream: true });
      return;
    }
    const headerBytes = headerListSize(headers);
    if (headerBytes > this.maxHeaderListSize) {
      this.refuse('headers_too_large');
      this.log.warn(
        { peer: peer.uri, bytes: headerBytes, limit: this.maxHeaderListSize },
        `hbone: refused stream: header list of ${headerBytes} bytes is over the limit of ${this.maxHeaderListSize}`,
      );
      stream.respond({ ':status': 431 }, { endStream: true });
      return;
    }
    const target = parseAuthority(headers[':authority']);
    if (!target) {
      this.refuse('bad_authority');
      this.log.warn(
        { peer: peer.uri, authority: headers[':authority'] },
        'hbone: refused stream: :authority must be <ip>:<port>',
      );
      stream.respond({ ':status': 400 }, { endStream: true });
      return;
    }
    const done = this.drainer.begin();
    peer.streams++;
    this.activeStreams?.inc();
    if (peer.streams === 1) this.keeper.setIdle(session, false);
    (stream as H2Stream).once('close', () => {
      done();
      peer.streams--;
      this.activeStreams?.dec();
      if (peer.streams === 0) this.keeper.setIdle(session, true);
    });
    const req = new HboneRequest(
      peer.id,
      peer.uri,
      target,
      headers,
      stream,
      peer.local,
      peer.remoteAddress,
      peer.remotePort,
      peer.context,
    );
    try {
      this.opts.onRequest(req);
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'hbone: request handler threw; answering 503');
      req.reject(503);
    }
  }
}

/** The reused read buffer of a connection on our own framer (one per connection). */
const READ_BUFFER = 64 * 1024;

function ignore(): void {}

/** Header list size as HTTP/2 counts it (RFC 9113 section 6.5.2): name + value + 32 per field. */
function headerListSize(headers: IncomingHttpHeaders): number {
  let n = 0;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) n += name.length + x.length + 32;
    else n += name.length + String(v).length + 32;
  }
  return n;
}

function classifyTlsError(err: Error & { code?: string }): RefusalReason {
  const code = err.code ?? '';
  const msg = err.message ?? '';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || /timed? ?out/i.test(msg)) return 'handshake_timeout';
  if (
    /http request|wrong version number|unknown protocol|packet length too long|unsupported protocol/i.test(
      msg,
    )
  )
    return 'not_tls';
  if (/did not return a certificate|peer did not return/i.test(msg)) return 'no_client_cert';
  if (/expired/i.test(msg) || code === 'CERT_HAS_EXPIRED') return 'expired_cert';
  if (/certificate|unknown ca|verify/i.test(msg)) return 'untrusted_cert';
  return 'tls_handshake';
}

function describeRefusal(reason: RefusalReason): string {
  switch (reason) {
    case 'not_tls':
      return 'the client did not speak TLS (plain HTTP or another protocol on the HBONE port?)';
    case 'no_client_cert':
      return 'the client presented no certificate; HBONE requires mutual TLS';
    case 'expired_cert':
      return 'the client certificate has expired or is not yet valid';
    case 'untrusted_cert':
      return 'the client certificate does not chain to the mesh trust bundle (another CA?)';
    case 'handshake_timeout':
      return 'the client did not finish the TLS handshake in time';
    default:
      return 'TLS handshake failed';
  }
}
