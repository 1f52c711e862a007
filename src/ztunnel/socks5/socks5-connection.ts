/** One SOCKS5 client's handshake, from accept to hand-off (see socks5-server.ts). */
import type net from 'node:net';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import { normalizeIp } from '../state/ip.js';
import {
  encodeReply,
  parseGreeting,
  parseRequest,
  METHOD_NO_AUTH,
  METHOD_NONE_ACCEPTABLE,
  SOCKS_VERSION,
  Socks5Reply,
  type Socks5ErrorReason,
} from './socks5-parse.js';

export interface Socks5Endpoint {
  ip: string;
  port: number;
}

/** A completed CONNECT request, handed to `onConnect`. Exactly one of succeed()/fail() must be called. */
export interface Socks5Request {
  client: net.Socket;
  clientAddr: Socks5Endpoint;
  /** The destination: the IP the client gave, the mesh VIP of its name, or what DNS returned for it. */
  dst: Socks5Endpoint;
  /** The domain name the client asked for (ATYP 3), without a trailing dot. */
  hostname?: string;
  /** Sends the success reply and returns the socket, positioned right after the request. */
  succeed(): net.Socket;
  /** Sends a failure reply (a Socks5Reply code) and closes the connection. */
  fail(code: number): void;
}

/** What a connection needs from its server; built once per server. */
export interface Socks5Context {
  log: Logger;
  timeoutMs: number;
  resolve: (hostname: string, client: Socks5Endpoint) => string | undefined;
  lookupHost: (hostname: string) => Promise<string>;
  onConnect: (req: Socks5Request) => void;
  countError(reason: Socks5ErrorReason): void;
  done(conn: Socks5Connection): void;
}

/** How long a failed connection waits for the client to close after our reply before it is destroyed. */
const LINGER_MS = 2_000;

const enum Phase {
  Greeting,
  Request,
  Resolving,
  HandedOff,
  Closed,
}

/** One client's handshake. */
export class Socks5Connection {
  private phase = Phase.Greeting;
  private buf: Buffer = Buffer.alloc(0);
  private received = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly clientAddr: Socks5Endpoint;
  private readonly log: Logger;

  constructor(
    private readonly ctx: Socks5Context,
    private readonly socket: net.Socket,
  ) {
    this.clientAddr = {
      ip: normalizeIp(socket.remoteAddress ?? '') ?? socket.remoteAddress ?? '',
      port: socket.remotePort ?? 0,
    };
    this.log = ctx.log.child({ client: `${this.clientAddr.ip}:${this.clientAddr.port}` });
    this.onReadable = this.onReadable.bind(this);
    this.onEnd = this.onEnd.bind(this);
    this.onError = this.onError.bind(this);
    this.onClose = this.onClose.bind(this);
  }

  start(): void {
    const s = this.socket;
    s.setNoDelay(true);
    s.on('readable', this.onReadable);
    s.on('end', this.onEnd);
    s.on('error', this.onError);
    s.on('close', this.onClose);
    this.timer = setTimeout(() => this.onTimeout(), this.ctx.timeoutMs);
    this.timer.unref();
  }

  abort(): void {
    if (this.phase === Phase.HandedOff || this.phase === Phase.Closed) return;
    this.finish();
    this.socket.destroy();
  }

  private onReadable(): void {
    let chunk: Buffer | null;
    while (this.phase <= Phase.Request && (chunk = this.socket.read() as Buffer | null) !== null) {
      this.received += chunk.length;
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.advance();
    }
  }

  private advance(): void {
    if (this.phase === Phase.Greeting) {
      const g = parseGreeting(this.buf);
      if (g.kind === 'need') return;
      if (g.kind === 'error') {
        const answer =
          g.reason === 'no_acceptable_method' ? [SOCKS_VERSION, METHOD_NONE_ACCEPTABLE] : undefined;
        this.reject(g.reason, g.detail, answer && Buffer.from(answer));
        return;
      }
      this.buf = this.buf.subarray(g.consumed);
      this.socket.write(Buffer.from([SOCKS_VERSION, METHOD_NO_AUTH]));
      this.phase = Phase.Request;
    }
    if (this.phase !== Phase.Request) return;
    const r = parseRequest(this.buf);
    if (r.kind === 'need') return;
    if (r.kind === 'error') {
      this.reject(r.reason, r.detail, r.reply === undefined ? undefined : encodeReply(r.reply));
      return;
    }
    // Stop reading: the rest belongs to the tunnel. Put back what was read past the request.
    this.phase = Phase.Resolving;
    clearTimeout(this.timer);
    const rest = this.buf.subarray(r.consumed);
    this.buf = Buffer.alloc(0);
    this.socket.off('readable', this.onReadable);
    if (rest.length > 0) this.socket.unshift(rest);
    if (r.ip !== undefined) {
      this.handOff({ ip: r.ip, port: r.port }, undefined);
      return;
    }
    this.resolveName(r.hostname!, r.port);
  }

  private resolveName(hostname: string, port: number): void {
    const opts = this.ctx;
    const literal = normalizeIp(hostname);
    if (literal !== undefined) {
      this.handOff({ ip: literal, port }, hostname);
      return;
    }
    let vip: string | undefined;
    try {
      vip = opts.resolve(hostname.toLowerCase(), this.clientAddr);
    } catch (err) {
      this.log.warn({ hostname, err: errorMessage(err) }, 'socks5: mesh name resolver threw; trying DNS');
    }
    if (vip !== undefined) {
      this.handOff({ ip: vip, port }, hostname);
      return;
    }
    opts.lookupHost(hostname).then(
      (ip) => {
        if (this.phase !== Phase.Resolving) return;
        this.handOff({ ip: normalizeIp(ip) ?? ip, port }, hostname);
      },
      (err: unknown) => {
        if (this.phase !== Phase.Resolving) return;
        this.reject(
          'resolve_failed',
          `${hostname} is neither a mesh service nor resolvable by DNS (${errorMessage(err)}); check the name and the node's resolver`,
          encodeReply(Socks5Reply.HOST_UNREACHABLE),
        );
      },
    );
  }

  private handOff(dst: Socks5Endpoint, hostname: string | undefined): void {
    if (this.socket.destroyed) {
      this.finish();
      return;
    }
    this.phase = Phase.HandedOff;
    this.ctx.done(this);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    const socket = this.socket;
    const log = this.log;
    let answered = false;
    const req: Socks5Request = {
      client: socket,
      clientAddr: this.clientAddr,
      dst,
      ...(hostname !== undefined ? { hostname } : {}),
      succeed: () => {
        if (answered) throw new Error('socks5: succeed() or fail() was already called for this request');
        answered = true;
        socket.write(encodeReply(Socks5Reply.SUCCEEDED));
        return socket;
      },
      fail: (code: number) => {
        if (answered) return;
        answered = true;
        log.debug({ dst, code }, 'socks5 request failed');
        closeWithReply(socket, encodeReply(code));
      },
    };
    try {
      this.ctx.onConnect(req);
    } catch (err) {
      log.error({ err: errorMessage(err), dst }, 'socks5: onConnect threw; closing the client');
      req.fail(Socks5Reply.GENERAL_FAILURE);
    }
  }

  private reject(reason: Socks5ErrorReason, detail: string, answer: Buffer | undefined): void {
    this.ctx.countError(reason);
    this.log.info({ reason, detail }, 'socks5 handshake refused');
    this.finish();
    if (answer) closeWithReply(this.socket, answer);
    else this.socket.destroy();
  }

  private onTimeout(): void {
    if (this.phase > Phase.Request) return;
    this.ctx.countError('timeout');
    this.log.info(
      { reason: 'timeout', detail: `no complete request within ${this.ctx.timeoutMs} ms` },
      'socks5 handshake refused',
    );
    this.finish();
    this.socket.destroy();
  }

  private onEnd(): void {
    // Only reached while reading the handshake: after it, reading stops and 'end' is the tunnel's.
    if (this.phase > Phase.Request) return;
    this.finish();
    this.socket.destroy();
    if (this.received === 0) {
      // A client that connects and leaves without a byte (a port probe) is not an error.
      this.log.debug('socks5 client closed before sending anything');
      return;
    }
    this.ctx.countError('truncated');
    this.log.info(
      { reason: 'truncated', detail: `client closed mid-handshake after ${this.received} bytes` },
      'socks5 handshake refused',
    );
  }

  private onError(err: Error): void {
    if (this.phase === Phase.HandedOff) {
      this.log.debug({ err: errorMessage(err) }, 'socks5 client socket error');
      return;
    }
    if (this.phase === Phase.Closed) return;
    this.ctx.countError('socket_error');
    this.log.info({ reason: 'socket_error', detail: errorMessage(err) }, 'socks5 handshake refused');
    this.finish();
  }

  private onClose(): void {
    this.finish();
  }

  private finish(): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    clearTimeout(this.timer);
    this.ctx.done(this);
    this.socket.off('readable', this.onReadable);
  }
}

/**
 * Sends a final reply and closes gracefully: FIN after the reply, read and drop whatever the client
 * still sends (closing with unread data would send a RST that can wipe our reply at the client), and
 * destroy after a short linger if the client does not close.
 */
function closeWithReply(socket: net.Socket, reply: Buffer): void {
  if (socket.destroyed) return;
  socket.on('data', discard);
  socket.on('error', discard);
  socket.end(reply);
  const t = setTimeout(() => socket.destroy(), LINGER_MS);
  t.unref();
  socket.once('close', () => clearTimeout(t));
}

function discard(): void {}
