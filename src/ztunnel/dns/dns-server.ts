/**
 * ztunnel's DNS proxy (port 15053, UDP and TCP on the same port). A/AAAA questions for mesh service names
 * are answered from the mesh state through `lookup`; everything else is relayed to the upstream resolvers
 * (dns-forwarder.ts). Malformed, oversized or unsupported queries get FORMERR/NOTIMP, an upstream that
 * does not answer gets SERVFAIL, and nothing is forwarded when there is no upstream (REFUSED). Every
 * query is counted in `ztunnel_dns_requests_total{result}`.
 */
import dgram from 'node:dgram';
import net, { type AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import { errorMessage, MeshError } from '../../common/errors.js';
import { normalizeIp } from '../state/ip.js';
import { addressRecords, encodeResponse, truncateForUdp, udpLimit, type ResponseSpec } from './dns-answer.js';
import { DnsForwarder } from './dns-forwarder.js';
import { readResolvConf, type DnsUpstream } from './resolv-conf.js';
import { CLASS_IN, parseQuery, Rcode, TYPE_AXFR, TYPE_IXFR, type DnsQuery } from './dns-wire.js';

export interface DnsClient {
  ip: string;
  port: number;
}

export type DnsTransport = 'udp' | 'tcp';

export type DnsResult =
  | 'answered_mesh'
  | 'forwarded'
  | 'nxdomain'
  | 'formerr'
  | 'servfail'
  | 'refused'
  | 'notimp'
  | 'badvers'
  | 'dropped';

export interface DnsServerOptions {
  logger?: Logger;
  registry?: Registry;
  /** A mesh name (lowercased, no trailing dot) → its IPs; undefined when it is not a mesh name (forward it). */
  lookup: (name: string, client: DnsClient) => { ips: string[] } | undefined;
  /** Default: the nameservers of /etc/resolv.conf, port 53. Empty: non-mesh names are REFUSED. */
  upstream?: DnsUpstream[];
  upstreamTimeoutMs?: number;
  /** TTL of mesh answers, seconds. */
  ttl?: number;
  /**
   * Name suffixes this server answers for alone: a name under one that `lookup` does not know gets
   * NXDOMAIN instead of being forwarded (e.g. `svc.cluster.local` when there is no cluster DNS upstream).
   * Default none.
   */
  authoritativeSuffixes?: string[];
  /** Largest query accepted, bytes. Default 4096. */
  maxQuerySize?: number;
  /** A TCP client idle this long is closed. Default 10 s. */
  tcpIdleTimeoutMs?: number;
}

/** Queries one TCP client may have in flight before its socket is paused. */
const TCP_MAX_IN_FLIGHT = 16;

export class DnsServer {
  private readonly log: Logger;
  private readonly lookup: DnsServerOptions['lookup'];
  private readonly ttl: number;
  private readonly suffixes: string[];
  private readonly maxQuerySize: number;
  private readonly tcpIdleTimeoutMs: number;
  private readonly requests: Counter<'result'>;
  private readonly forwarder: DnsForwarder;
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly tcpClients = new Set<net.Socket>();

  constructor(opts: DnsServerOptions) {
    this.log = opts.logger ?? silentLogger();
    const registry = opts.registry ?? new Registry();
    this.lookup = opts.lookup;
    this.ttl = opts.ttl ?? 30;
    this.suffixes = (opts.authoritativeSuffixes ?? []).map((s) => s.toLowerCase().replace(/^\.|\.$/g, ''));
    this.maxQuerySize = opts.maxQuerySize ?? 4096;
    this.tcpIdleTimeoutMs = opts.tcpIdleTimeoutMs ?? 10_000;
    this.requests =
      (registry.getSingleMetric('ztunnel_dns_requests_total') as Counter<'result'> | undefined) ??
      new Counter({
        name: 'ztunnel_dns_requests_total',
        help: 'DNS queries handled by the DNS proxy, by result',
        labelNames: ['result'],
        registers: [registry],
      });
    const latency =
      (registry.getSingleMetric('ztunnel_dns_upstream_request_duration_seconds') as
        Histogram<'protocol' | 'result'> | undefined) ??
      new Histogram({
        name: 'ztunnel_dns_upstream_request_duration_seconds',
        help: 'Time for an upstream resolver to answer a forwarded query',
        labelNames: ['protocol', 'result'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers: [registry],
      });
    const upstream = opts.upstream ?? readResolvConf();
    if (upstream.length === 0)
      this.log.warn(
        'dns: no upstream resolver (resolv.conf has no nameserver); names outside the mesh are refused',
      );
    this.forwarder = new DnsForwarder(upstream, opts.upstreamTimeoutMs ?? 2000, latency, this.log);
  }

  /** Binds UDP and TCP on the same port (with port 0: the port UDP got). */
  async listen(
    port: number,
    host: string,
    reusePort = false,
  ): Promise<{ udp: AddressInfo; tcp: AddressInfo }> {
    const family = net.isIPv6(host) ? 'udp6' : 'udp4';
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket({ type: family, reusePort });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      const udpAddr = udp.address();
      const tcp = net.createServer({ allowHalfOpen: true }, (s) => this.onTcpClient(s));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ port: udpAddr.port, host, reusePort }, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        // With port 0 the UDP port may be taken for TCP by someone else: pick another.
        if (port === 0 && attempt < 5) continue;
        throw new MeshError(
          'ZT_ERR_DNS_LISTEN',
          `DNS proxy cannot listen on TCP ${host}:${udpAddr.port}: ${errorMessage(err)}`,
          {
            cause: err,
          },
        );
      }
      udp.on('message', (msg, rinfo) => this.onUdpQuery(msg, rinfo));
      udp.on('error', (err) => this.log.error({ err: errorMessage(err) }, 'dns udp socket error'));
      tcp.on('error', (err) => this.log.error({ err: errorMessage(err) }, 'dns tcp listener error'));
      this.udp = udp;
      this.tcp = tcp;
      return { udp: udpAddr, tcp: tcp.address() as AddressInfo };
    }
  }

  async close(): Promise<void> {
    this.forwarder.close();
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const s of this.tcpClients) s.destroy();
    this.tcpClients.clear();
    if (udp) udp.close();
    if (tcp) await new Promise<void>((resolve) => tcp.close(() => resolve()));
  }

  /**
   * Answers one query (as received, without a TCP length prefix). Undefined: send nothing (a packet
   * too short to answer, or a response). Usable for DNS sockets opened elsewhere (per-pod listeners).
   */
  async answer(packet: Buffer, client: DnsClient, transport: DnsTransport): Promise<Buffer | undefined> {
    const parsed = parseQuery(packet, this.maxQuerySize);
    if (!parsed.ok) {
      const { rcode, error, header, question } = parsed;
      this.log.info({ client: `${client.ip}:${client.port}`, transport, error }, 'dns query refused');
      if (rcode === undefined || !header) return this.count('dropped', undefined);
      return this.count(
        rcode === Rcode.NOTIMP ? 'notimp' : 'formerr',
        encodeResponse({ header, question, edns: undefined, rcode }),
      );
    }
    const query = parsed.query;
    const { question, edns } = query;
    const limit = transport === 'udp' ? udpLimit(edns) : 65535;
    const reply = (rcode: number, extra: Partial<ResponseSpec> = {}): Buffer =>
      encodeResponse({ header: query.header, question, edns, rcode, maxSize: limit, ...extra });
    if (edns && edns.version !== 0) return this.count('badvers', reply(Rcode.BADVERS));

    if (question.class === CLASS_IN && question.name !== '') {
      let found: { ips: string[] } | undefined;
      try {
        found = this.lookup(question.name, client);
      } catch (err) {
        this.log.error({ name: question.name, err: errorMessage(err) }, 'dns mesh lookup failed');
        return this.count('servfail', reply(Rcode.SERVFAIL));
      }
      if (found) {
        const answers = addressRecords(question.type, found.ips, this.ttl);
        return this.count('answered_mesh', reply(Rcode.NOERROR, { authoritative: true, answers }));
      }
      if (this.isAuthoritative(question.name))
        return this.count('nxdomain', reply(Rcode.NXDOMAIN, { authoritative: true }));
    }
    if (question.type === TYPE_AXFR || question.type === TYPE_IXFR)
      return this.count('refused', reply(Rcode.REFUSED));
    if (!this.forwarder.hasUpstream) return this.count('refused', reply(Rcode.REFUSED));
    return this.forward(packet, query, transport, limit, reply);
  }

  private async forward(
    packet: Buffer,
    query: DnsQuery,
    transport: DnsTransport,
    limit: number,
    reply: (rcode: number) => Buffer,
  ): Promise<Buffer> {
    const r =
      transport === 'udp'
        ? await this.forwarder.udp(packet, query.question)
        : await this.forwarder.tcp(packet);
    if (!r.ok) return this.count('servfail', reply(Rcode.SERVFAIL));
    return this.count('forwarded', transport === 'udp' ? truncateForUdp(r.response, limit) : r.response);
  }

  private isAuthoritative(name: string): boolean {
    for (const s of this.suffixes) if (name === s || name.endsWith(`.${s}`)) return true;
    return false;
  }

  private count<T>(result: DnsResult, value: T): T {
    this.requests.inc({ result });
    return value;
  }

  private onUdpQuery(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const client = { ip: normalizeIp(rinfo.address) ?? rinfo.address, port: rinfo.port };
    this.answer(msg, client, 'udp').then(
      (out) => {
        if (out && this.udp) this.udp.send(out, rinfo.port, rinfo.address);
      },
      (err: unknown) => this.log.error({ err: errorMessage(err) }, 'dns query failed'),
    );
  }

  private onTcpClient(socket: net.Socket): void {
    this.tcpClients.add(socket);
    const client = { ip: normalizeIp(socket.remoteAddress ?? '') ?? '', port: socket.remotePort ?? 0 };
    let buf: Buffer = Buffer.alloc(0);
    let inFlight = 0;
    let ended = false;
    socket.setTimeout(this.tcpIdleTimeoutMs, () => socket.destroy());
    socket.on('error', (err) => this.log.debug({ err: errorMessage(err) }, 'dns tcp client error'));
    socket.on('close', () => this.tcpClients.delete(socket));
    socket.on('end', () => {
      ended = true;
      if (inFlight === 0) socket.end();
    });
    const send = (out: Buffer | undefined): void => {
      inFlight--;
      if (!socket.destroyed && out) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(out.length, 0);
        socket.write(Buffer.concat([len, out]));
      }
      if (ended && inFlight === 0) socket.end();
      else if (inFlight < TCP_MAX_IN_FLIGHT && socket.isPaused()) socket.resume();
    };
    socket.on('data', (d: Buffer) => {
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (len > this.maxQuerySize || len === 0) {
          this.count('formerr', undefined);
          this.log.info(
            { client: `${client.ip}:${client.port}`, length: len },
            'dns tcp query too large or empty; closing',
          );
          socket.destroy();
          return;
        }
        if (buf.length < 2 + len) return;
        const packet = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        inFlight++;
        this.answer(packet, client, 'tcp').then(send, (err: unknown) => {
          this.log.error({ err: errorMessage(err) }, 'dns query failed');
          send(undefined);
        });
        if (inFlight >= TCP_MAX_IN_FLIGHT) socket.pause();
      }
    });
  }
}
