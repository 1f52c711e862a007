/**
 * ztunnel's SOCKS5 listener (port 15080): lets an application without traffic capture reach mesh
 * services by IP or by mesh service name. Only the handshake lives here (RFC 1928: NO AUTHENTICATION,
 * CONNECT, IPv4/IPv6/domain). Each completed request goes to `onConnect`, which runs the outbound path
 * and then calls `succeed()` (to get the socket, positioned after the request) or `fail(code)`.
 *
 * The handshake reads in paused mode ('readable' + read()), so bytes a client sends after its request
 * are never lost: whatever was read past the request is put back with unshift(), and anything later
 * stays in the socket until the outbound path starts reading. A client that speaks garbage, stalls or
 * asks for something unsupported is answered where the protocol allows, closed, logged and counted in
 * `ztunnel_socks5_errors_total{reason}`; other connections are not affected.
 */
import net, { type AddressInfo } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';
import { Counter, Registry } from 'prom-client';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import { errorMessage } from '../../common/errors.js';
import {
  Socks5Connection,
  type Socks5Context,
  type Socks5Endpoint,
  type Socks5Request,
} from './socks5-connection.js';

export type { Socks5Endpoint, Socks5Request };
export { Socks5Reply } from './socks5-parse.js';

export interface Socks5ServerOptions {
  logger?: Logger;
  registry?: Registry;
  /** Time from accept to a complete request. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Mesh service name → VIP (synchronous); undefined when the name is not a mesh name. */
  resolve: (hostname: string, client: Socks5Endpoint) => string | undefined;
  /** Resolves names outside the mesh; default node:dns lookup (the system resolver). */
  lookupHost?: (hostname: string) => Promise<string>;
  onConnect: (req: Socks5Request) => void;
}

export class Socks5Server {
  private readonly log: Logger;
  private readonly errors: Counter<'reason'>;
  private readonly ctx: Socks5Context;
  private server: net.Server | undefined;
  /** Connections still in their handshake; close() ends these (handed-off ones belong to the caller). */
  private readonly pending = new Set<Socks5Connection>();

  constructor(opts: Socks5ServerOptions) {
    this.log = opts.logger ?? silentLogger();
    const registry = opts.registry ?? new Registry();
    this.errors =
      (registry.getSingleMetric('ztunnel_socks5_errors_total') as Counter<'reason'> | undefined) ??
      new Counter({
        name: 'ztunnel_socks5_errors_total',
        help: 'SOCKS5 handshakes that failed, by reason',
        labelNames: ['reason'],
        registers: [registry],
      });
    const errors = this.errors;
    const pending = this.pending;
    this.ctx = {
      log: this.log,
      timeoutMs: opts.handshakeTimeoutMs ?? 10_000,
      resolve: opts.resolve,
      lookupHost: opts.lookupHost ?? defaultLookup,
      onConnect: opts.onConnect,
      countError: (reason) => errors.inc({ reason }),
      done: (conn) => pending.delete(conn),
    };
  }

  listen(port: number, host: string, reusePort = false): Promise<AddressInfo> {
    const server = net.createServer({ noDelay: true }, (s) => this.handleConnection(s));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host, reusePort }, () => {
        server.off('error', reject);
        server.on('error', (err) => this.log.error({ err: errorMessage(err) }, 'socks5 listener error'));
        resolve(server.address() as AddressInfo);
      });
    });
  }

  /** Runs the handshake on an accepted socket (from this server's listener or any other). */
  handleConnection(socket: net.Socket): void {
    const conn = new Socks5Connection(this.ctx, socket);
    this.pending.add(conn);
    conn.start();
  }

  /** Stops listening and closes connections still in their handshake. */
  async close(): Promise<void> {
    for (const c of this.pending) c.abort();
    this.pending.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function defaultLookup(hostname: string): Promise<string> {
  const r = await dnsLookup(hostname);
  return r.address;
}
