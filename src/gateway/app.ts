/**
 * The ingress gateway: the L7 engine behind HTTP and HTTPS listeners at the edge. Its configuration
 * from istiod (`<ns>/<deployment>`) names the listener ports; a listener opens for each and closes when
 * the port goes. An HTTPS port terminates TLS with the certificates its configuration names, fetched
 * from istiod over the mTLS port (credentials.ts), chosen by the client's SNI; it opens once one of
 * them has arrived, and a renewed certificate applies to the next handshake. Upstream it speaks HBONE
 * to mesh pods (or to a waypoint, with ingress-use-waypoint) with its own identity (`<deployment>`
 * service account), plain TCP to pods outside the mesh.
 */
import net from 'node:net';
import tls from 'node:tls';
import type http from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { createRegistry } from '../common/metrics.js';
import type { CertSource } from '../hbone/credentials.js';
import { HbonePool } from '../hbone/pool.js';
import { ProxyCertificates } from '../identity/proxy-certs.js';
import { L7Engine } from '../l7/engine.js';
import type { L7Config, PortTls } from '../l7/model.js';
import type { SpiffeId } from '../pki/spiffe.js';
import type { DeltaClient } from '../xds/delta-client.js';
import type { WaypointConfig } from '../waypoint/config.js';
import { watchProxyConfig } from '../waypoint/config-watch.js';
import { HboneConnector } from '../waypoint/connector.js';
import { startStatusServers } from '../waypoint/status-servers.js';
import type { GatewayConfig } from './config.js';
import {
  GatewayCredentials,
  pickCertificate,
  secureAddressOf,
  type LoadedCredential,
} from './credentials.js';

/** The address listeners hand the engine (istiod's gateway config lists its ports under it). */
const LISTEN_IP = '0.0.0.0';

export interface GatewayDeps {
  logger: Logger;
  registry?: Registry;
  certs?: CertSource;
  trustDomains?: string[];
}

export class IngressGateway {
  readonly registry: Registry;
  engine!: L7Engine;
  private readonly log: Logger;
  /** Open listeners; an HTTPS one with the credential it serves clients without SNI. */
  private readonly listeners = new Map<
    number,
    { server: net.Server; tls: boolean; fallback?: LoadedCredential }
  >();
  /** Each HTTPS port's certificates, as the latest configuration names them. */
  private readonly portTls = new Map<number, PortTls>();
  private credentials: GatewayCredentials | undefined;
  private readonly status: http.Server[] = [];
  private pool: HbonePool | undefined;
  private xds: DeltaClient | undefined;
  private ca: ProxyCertificates | undefined;
  private configured = false;
  private syncing: Promise<void> = Promise.resolve();
  private want = new Set<number>();

  constructor(
    readonly cfg: WaypointConfig & Partial<Pick<GatewayConfig, 'secureXdsAddress'>>,
    private readonly deps: GatewayDeps,
  ) {
    this.log = deps.logger;
    this.registry = deps.registry ?? createRegistry('gateway', { defaultMetrics: true });
  }

  get identity(): SpiffeId {
    return {
      trustDomain: this.cfg.trustDomain,
      namespace: this.cfg.namespace,
      serviceAccount: this.cfg.serviceAccount || this.cfg.name,
    };
  }

  /** Listener ports open now. */
  get ports(): number[] {
    return [...this.listeners.keys()].sort((a, b) => a - b);
  }

  apply(config: L7Config): Promise<void> {
    this.engine.update(config);
    this.portTls.clear();
    for (const p of config.services.flatMap((s) => s.ports)) if (p.tls) this.portTls.set(p.port, p.tls);
    const want = new Set(config.services.flatMap((s) => s.ports.map((p) => p.port)));
    this.want = want;
    this.credentials?.want(
      [...this.portTls.values()].flatMap((t) => t.certificates.map((c) => c.credential)),
    );
    return this.sync().then(() => {
      this.log.info({ ports: this.ports, clusters: config.clusters.length }, 'gateway configuration applied');
      this.configured = true;
    });
  }

  async start(opts: { watchXds?: boolean } = {}): Promise<void> {
    const certs = this.deps.certs ?? (await this.certsFromCa());
    const trustDomains = this.deps.trustDomains ?? [this.cfg.trustDomain];
    this.pool = new HbonePool({ logger: this.log, registry: this.registry, trustDomains });
    this.engine = new L7Engine({
      connector: new HboneConnector(this.pool, certs),
      log: this.log.child({ part: 'access' }),
      registry: this.registry,
      reporter: 'source',
      clusterId: this.cfg.clusterId,
      accessLog: this.cfg.accessLog,
    });
    this.credentials = new GatewayCredentials({
      address: this.cfg.secureXdsAddress || secureAddressOf(this.cfg.xdsAddress),
      certs,
      node: {
        name: this.cfg.name,
        namespace: this.cfg.namespace,
        podName: this.cfg.podName || `${this.cfg.name}-1`,
        podIp: this.cfg.podIp,
      },
      logger: this.log.child({ part: 'credentials' }),
      onChange: () => void this.sync(),
    });
    this.log.info({ identity: certs.current().uri }, 'gateway started');
    if (opts.watchXds !== false) {
      this.xds = watchProxyConfig({
        address: this.cfg.xdsAddress,
        name: this.cfg.name,
        namespace: this.cfg.namespace,
        podName: this.cfg.podName || `${this.cfg.name}-1`,
        podIp: this.cfg.podIp,
        nodeType: 'router',
        logger: this.log.child({ part: 'xds' }),
        onConfig: (c) => void this.apply(c),
      });
    }
    const st = await startStatusServers({
      registry: this.registry,
      ready: () => this.configured,
      metricsPort: this.cfg.metricsPort,
      readinessPort: this.cfg.readinessPort,
      host: this.cfg.podIp.startsWith('127.') ? this.cfg.podIp : '0.0.0.0',
    });
    this.status.push(...st.servers);
  }

  async stop(): Promise<void> {
    this.xds?.close();
    this.credentials?.close();
    for (const s of [...[...this.listeners.values()].map((l) => l.server), ...this.status]) s.close();
    this.engine?.close();
    this.pool?.close();
    this.ca?.close();
  }

  /** Brings the listeners in line with the configuration and the credentials at hand (serialized). */
  private sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncListeners());
    return this.syncing;
  }

  private async syncListeners(): Promise<void> {
    const want = this.want;
    for (const [port, l] of this.listeners) {
      // An HTTPS listener stays while the port is HTTPS and one of its certificates is at hand.
      const keep = l.tls ? this.credentialFor(port, undefined) !== undefined : !this.portTls.has(port);
      if (want.has(port) && keep) continue;
      l.server.close();
      this.listeners.delete(port);
    }
    const host = this.cfg.podIp.startsWith('127.') ? this.cfg.podIp : '0.0.0.0';
    for (const port of want) {
      const existing = this.listeners.get(port);
      if (existing) {
        if (existing.tls) this.updateFallback(existing, port);
        continue;
      }
      const srv = this.portTls.has(port) ? this.tlsServer(port) : this.plainServer(port);
      if (!srv) continue; // HTTPS: none of its certificates has arrived yet
      try {
        await new Promise<void>((res, rej) => {
          srv.once('error', rej);
          srv.listen(port, host, () => res());
        });
        this.listeners.set(port, {
          server: srv,
          tls: srv instanceof tls.Server,
          fallback: this.credentialFor(port, undefined),
        });
      } catch (err) {
        this.log.error(
          { port, err: (err as Error).message },
          'gateway: cannot listen on the port; check the Gateway listeners',
        );
      }
    }
  }

  private serve(s: net.Socket, port: number, scheme: 'http' | 'https'): void {
    s.on('error', () => undefined);
    this.engine.serve(s, {
      targetIp: LISTEN_IP,
      targetPort: port,
      sourceIp: s.remoteAddress ?? '',
      sourcePort: s.remotePort ?? 0,
      sourcePrincipal: '',
      mtls: false,
      scheme,
    });
  }

  private plainServer(port: number): net.Server {
    return net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.serve(s, port, 'http'));
  }

  /** An HTTPS listener: the certificate by SNI (`pickCredential`), HTTP/2 or HTTP/1.1 by ALPN. */
  private tlsServer(port: number): tls.Server | undefined {
    const first = this.credentialFor(port, undefined);
    if (!first) {
      this.log.info({ port }, 'gateway: HTTPS listener waits for its certificate from istiod');
      return undefined;
    }
    const srv = tls.createServer(
      {
        cert: first.cert,
        key: first.key,
        minVersion: 'TLSv1.2',
        ALPNProtocols: ['h2', 'http/1.1'],
        handshakeTimeout: 10_000,
        allowHalfOpen: true,
        SNICallback: (servername, cb) => cb(null, this.credentialFor(port, servername)?.context),
      },
      (s) => this.serve(s, port, 'https'),
    );
    srv.on('tlsClientError', (err, s) => {
      this.log.debug({ port, err: err.message, source: s.remoteAddress }, 'gateway: TLS handshake failed');
    });
    return srv;
  }

  /** A listener's certificate for clients without SNI follows the credentials as they change. */
  private updateFallback(l: { server: net.Server; fallback?: LoadedCredential }, port: number): void {
    const c = this.credentialFor(port, undefined);
    if (!c || c === l.fallback) return;
    (l.server as tls.Server).setSecureContext({ cert: c.cert, key: c.key, minVersion: 'TLSv1.2' });
    l.fallback = c;
  }

  private credentialFor(port: number, sni: string | undefined): LoadedCredential | undefined {
    const cfg = this.portTls.get(port);
    if (!cfg || !this.credentials) return undefined;
    const have = cfg.certificates.filter((c) => this.credentials!.get(c.credential));
    const pick = pickCertificate(have, sni);
    return pick ? this.credentials.get(pick.credential) : undefined;
  }

  private certsFromCa(): Promise<CertSource> {
    this.ca = new ProxyCertificates(this.cfg, this.identity, this.log, this.registry);
    return this.ca.source();
  }
}
