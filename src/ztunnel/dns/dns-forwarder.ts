/**
 * Relays queries that are not for mesh names to the upstream resolvers. UDP queries go out on one
 * shared socket per address family with a fresh random id (mapped back to the client's on the way in);
 * a response is taken only from the upstream the query went to, with the id and question it was sent
 * with. TCP queries get their own TCP connection. No response within the timeout, or an upstream error,
 * is a failure the server answers with SERVFAIL; the next query then goes to the next upstream.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import type { Histogram } from 'prom-client';
import type { Logger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import { normalizeIp } from '../state/ip.js';
import { HEADER_SIZE, readHeader, readQuestion, type DnsQuestion } from './dns-wire.js';
import type { DnsUpstream } from './resolv-conf.js';

export type ForwardResult =
  { ok: true; response: Buffer } | { ok: false; error: 'timeout' | 'error' | 'busy' };

interface Pending {
  clientId: number;
  question: DnsQuestion;
  upstreamIp: string;
  upstreamPort: number;
  timer: NodeJS.Timeout;
  started: bigint;
  done: (r: ForwardResult) => void;
}

/** Ids in flight at once on one UDP socket before new queries are refused. */
const MAX_PENDING = 8192;
/** The largest TCP response accepted from an upstream. */
const MAX_TCP_RESPONSE = 65535;

export class DnsForwarder {
  private preferred = 0;
  private readonly sockets = new Map<'udp4' | 'udp6', dgram.Socket>();
  private readonly pending = new Map<number, Pending>();
  private readonly tcpConns = new Set<net.Socket>();

  constructor(
    readonly upstream: readonly DnsUpstream[],
    private readonly timeoutMs: number,
    private readonly latency: Histogram<'protocol' | 'result'>,
    private readonly log: Logger,
  ) {}

  get hasUpstream(): boolean {
    return this.upstream.length > 0;
  }

  private pick(): DnsUpstream {
    return this.upstream[this.preferred % this.upstream.length]!;
  }

  private failed(u: DnsUpstream): void {
    if (this.upstream[this.preferred % this.upstream.length] === u) this.preferred++;
  }

  udp(query: Buffer, question: DnsQuestion): Promise<ForwardResult> {
    const u = this.pick();
    if (this.pending.size >= MAX_PENDING) return Promise.resolve({ ok: false, error: 'busy' });
    const host = u.host.split('%')[0]!;
    const family = net.isIPv6(host) ? 'udp6' : 'udp4';
    const sock = this.socket(family);
    let id = randomInt(0x10000);
    while (this.pending.has(id)) id = (id + 1) & 0xffff;
    const out = Buffer.from(query);
    const clientId = out.readUInt16BE(0);
    out.writeUInt16BE(id, 0);
    return new Promise((resolve) => {
      const p: Pending = {
        clientId,
        question,
        upstreamIp: normalizeIp(host) ?? host,
        upstreamPort: u.port,
        started: process.hrtime.bigint(),
        timer: setTimeout(() => {
          if (this.pending.get(id) !== p) return;
          this.pending.delete(id);
          this.observe('udp', 'timeout', p.started);
          this.failed(u);
          this.log.warn({ upstream: `${u.host}:${u.port}`, name: question.name }, 'dns upstream timed out');
          resolve({ ok: false, error: 'timeout' });
        }, this.timeoutMs),
        done: resolve,
      };
      p.timer.unref();
      this.pending.set(id, p);
      sock.send(out, u.port, u.host, (err) => {
        if (!err || this.pending.get(id) !== p) return;
        clearTimeout(p.timer);
        this.pending.delete(id);
        this.observe('udp', 'error', p.started);
        this.failed(u);
        this.log.warn(
          { upstream: `${u.host}:${u.port}`, err: errorMessage(err) },
          'dns upstream send failed',
        );
        resolve({ ok: false, error: 'error' });
      });
    });
  }

  private socket(family: 'udp4' | 'udp6'): dgram.Socket {
    let s = this.sockets.get(family);
    if (s) return s;
    s = dgram.createSocket(family);
    s.on('message', (msg, rinfo) => this.onUdpResponse(msg, rinfo));
    s.on('error', (err) => this.log.warn({ err: errorMessage(err) }, 'dns upstream socket error'));
    this.sockets.set(family, s);
    return s;
  }

  private onUdpResponse(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const h = readHeader(msg);
    if (!h || !h.qr) return;
    const p = this.pending.get(h.id);
    if (!p) return;
    if ((normalizeIp(rinfo.address) ?? rinfo.address) !== p.upstreamIp || rinfo.port !== p.upstreamPort)
      return;
    if (h.qdcount >= 1) {
      const q = readQuestion(msg, HEADER_SIZE);
      if (!q.ok || q.value.name !== p.question.name || q.value.type !== p.question.type) return;
    }
    clearTimeout(p.timer);
    this.pending.delete(h.id);
    this.observe('udp', 'ok', p.started);
    const response = Buffer.from(msg);
    response.writeUInt16BE(p.clientId, 0);
    p.done({ ok: true, response });
  }

  /** Relays one query over its own TCP connection to the upstream. */
  tcp(query: Buffer): Promise<ForwardResult> {
    const u = this.pick();
    const started = process.hrtime.bigint();
    return new Promise((resolve) => {
      const sock = net.connect({ host: u.host, port: u.port });
      this.tcpConns.add(sock);
      let buf = Buffer.alloc(0);
      let settled = false;
      const finish = (r: ForwardResult, result: 'ok' | 'timeout' | 'error'): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        this.observe('tcp', result, started);
        if (!r.ok) this.failed(u);
        resolve(r);
      };
      const timer = setTimeout(() => {
        this.log.warn({ upstream: `${u.host}:${u.port}` }, 'dns upstream timed out (tcp)');
        finish({ ok: false, error: 'timeout' }, 'timeout');
      }, this.timeoutMs);
      timer.unref();
      const frame = Buffer.alloc(2 + query.length);
      frame.writeUInt16BE(query.length, 0);
      query.copy(frame, 2);
      sock.on('connect', () => sock.write(frame));
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length < 2) return;
        const len = buf.readUInt16BE(0);
        if (len > MAX_TCP_RESPONSE || len < HEADER_SIZE) {
          finish({ ok: false, error: 'error' }, 'error');
          return;
        }
        if (buf.length < 2 + len) return;
        const response = Buffer.from(buf.subarray(2, 2 + len));
        if (response.readUInt16BE(0) !== query.readUInt16BE(0))
          finish({ ok: false, error: 'error' }, 'error');
        else finish({ ok: true, response }, 'ok');
      });
      sock.on('error', (err) => {
        this.log.warn(
          { upstream: `${u.host}:${u.port}`, err: errorMessage(err) },
          'dns upstream failed (tcp)',
        );
        finish({ ok: false, error: 'error' }, 'error');
      });
      sock.on('close', () => {
        this.tcpConns.delete(sock);
        finish({ ok: false, error: 'error' }, 'error');
      });
    });
  }

  private observe(protocol: 'udp' | 'tcp', result: 'ok' | 'timeout' | 'error', started: bigint): void {
    this.latency.observe({ protocol, result }, Number(process.hrtime.bigint() - started) / 1e9);
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.done({ ok: false, error: 'error' });
    }
    this.pending.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
    for (const s of this.tcpConns) s.destroy();
    this.tcpConns.clear();
  }
}
