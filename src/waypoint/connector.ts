/**
 * HBONE out: the engine's upstream connections. An ambient endpoint is reached with a CONNECT to its
 * pod (pod IP:15008, authority pod IP:target port) with the waypoint's own certificate, checking the
 * endpoint's identity; an endpoint outside the mesh with plain TCP.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { HBONE_PORT } from '../hbone/settings.js';
import type { CertSource } from '../hbone/credentials.js';
import { formatAuthority } from '../hbone/authority.js';
import type { HbonePool } from '../hbone/pool.js';
import type { Connector } from '../l7/cluster/upstream.js';
import type { Endpoint } from '../l7/model.js';

export class HboneConnector implements Connector {
  constructor(
    private readonly pool: HbonePool,
    private readonly certs: CertSource,
    private readonly connectTimeoutMs = 10_000,
  ) {}

  connect(ep: Endpoint): Promise<Duplex> {
    if (ep.hbone) {
      return this.pool.connect({
        source: this.certs.current(),
        host: ep.ip,
        port: HBONE_PORT,
        expectedIdentities: [ep.identity],
        target: formatAuthority(ep.ip, ep.port),
      });
    }
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: ep.ip, port: ep.port, noDelay: true, timeout: this.connectTimeoutMs });
      s.once('connect', () => {
        s.setTimeout(0);
        resolve(s);
      });
      s.once('timeout', () => s.destroy(new Error('connect timeout')));
      s.once('error', reject);
    });
  }
}
