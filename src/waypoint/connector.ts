/**
 * HBONE out: the engine's upstream connections (waypoint, sidecar, ingress gateway). An HBONE endpoint
 * is reached with a CONNECT to its pod (pod IP:15008, authority pod IP:target port) with the proxy's
 * own certificate, checking the endpoint's identity; an endpoint with `via` through that proxy (a
 * waypoint: tunnel to its pod, authority = service VIP:port); an endpoint outside the mesh with plain
 * TCP. A proxy inside a captured pod (the sidecar) marks its sockets so its own traffic is not captured.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { HBONE_PORT } from '../hbone/settings.js';
import type { CertSource } from '../hbone/credentials.js';
import { formatAuthority } from '../hbone/authority.js';
import type { HbonePool } from '../hbone/pool.js';
import type { Connector } from '../l7/cluster/upstream.js';
import type { Endpoint } from '../l7/model.js';
import { connectSocket } from '../native/index.js';

export interface ConnectorOptions {
  connectTimeoutMs?: number;
  /** SO_MARK for every upstream socket (the sidecar's 0x539: not captured again). */
  mark?: number;
  /** `baggage` sent on each tunnel (the proxy's own workload, for the peer's telemetry). */
  baggage?: string;
}

export class HboneConnector implements Connector {
  private readonly timeoutMs: number;
  private readonly dial: ((host: string, port: number) => Duplex) | undefined;

  constructor(
    private readonly pool: HbonePool,
    private readonly certs: CertSource,
    private readonly o: ConnectorOptions = {},
  ) {
    this.timeoutMs = o.connectTimeoutMs ?? 10_000;
    const mark = o.mark;
    this.dial = mark ? (host, port) => connectSocket({ host, port, mark }) : undefined;
  }

  connect(ep: Endpoint): Promise<Duplex> {
    if (ep.hbone) {
      return this.pool.connect({
        source: this.certs.current(),
        host: ep.via ?? ep.ip,
        port: HBONE_PORT,
        expectedIdentities: [ep.identity],
        target: formatAuthority(ep.ip, ep.port),
        ...(this.o.baggage ? { baggage: this.o.baggage } : {}),
        ...(this.dial ? { dial: this.dial } : {}),
      });
    }
    return new Promise((resolve, reject) => {
      const s = this.dial
        ? (this.dial(ep.ip, ep.port) as net.Socket)
        : net.connect({ host: ep.ip, port: ep.port, noDelay: true });
      s.setNoDelay(true);
      s.setTimeout(this.timeoutMs);
      s.once('connect', () => {
        s.setTimeout(0);
        resolve(s);
      });
      s.once('timeout', () => s.destroy(new Error('connect timeout')));
      s.once('error', reject);
    });
  }
}
