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
import { forwardedClientCert } from '../l7/http/client-cert.js';
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

type TlsEntry = PortTls['certificates'][number];

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
  /**
   * Open listeners; an HTTPS one with the context it serves clients without SNI and its
   * client-certificate policy (a change of policy opens the port again).
   */
  private readonly listeners = new Map<
    number,
    { server: net.Server; tls: boolean; fallback?: tls.SecureContext; clientCerts?: string }
  >();
  /** TLS contexts by `credential|caCredential`, with what they were made from. */
  private readonly contexts = new Map<
    string,
    {
      cert: LoadedCredential;
      ca: string | undefined;
      options: tls.SecureContextOptions;
      context: tls.SecureContext;
    }
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
    const entries = [...this.portTls.values()].flatMap((t) => t.certificates);
    this.credentials?.want(
      entries.flatMap((c) => (c.caCredential ? [c.credential, c.caCredential] : [c.credential])),
    );
    // Contexts of certificates no longer configured go.
    const inUse = new Set(entries.map((c) => `${c.credential}|${c.caCredential ?? ''}`));
    for (const k of this.contexts.keys()) if (!inUse.has(k)) this.contexts.delete(k);
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
      // An HTTPS listener stays while the port is HTTPS with the same client-certificate policy and
      // one of its certificates is at hand.
      const keep = l.tls
        ? this.tlsFor(port, undefined) !== undefined && l.clientCerts === this.clientCertPolicy(port)
        : !this.portTls.has(port);
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
      const tlsPort = this.portTls.has(port);
      const srv = tlsPort ? this.tlsServer(port) : this.plainServer(port);
      if (!srv) continue; // HTTPS: none of its certificates has arrived yet
      try {
        await new Promise<void>((res, rej) => {
          srv.once('error', rej);
          srv.listen(port, host, () => res());
        });
        this.listeners.set(port, {
          server: srv,
          tls: tlsPort,
          fallback: this.tlsFor(port, undefined)?.context,
          clientCerts: this.clientCertPolicy(port),
        });
      } catch (err) {
        this.log.error(
          { port, err: (err as Error).message },
          'gateway: cannot listen on the port; check the Gateway listeners',
        );
      }
    }
  }

  private serve(s: net.Socket, port: number, scheme: 'http' | 'https', clientCert?: string): void {
    s.on('error', () => undefined);
    this.engine.serve(s, {
      targetIp: LISTEN_IP,
      targetPort: port,
      sourceIp: s.remoteAddress ?? '',
      sourcePort: s.remotePort ?? 0,
      sourcePrincipal: '',
      mtls: false,
      scheme,
      ...(clientCert ? { clientCert } : {}),
    });
  }

  private plainServer(port: number): net.Server {
    return net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.serve(s, port, 'http'));
  }

  /**
   * Whether a port asks clients for certificates: `none`; `required` when every certificate entry
   * requires one (the handshake itself refuses a client without); `mixed` otherwise (asked, and
   * checked per entry once the handshake is done).
   */
  private clientCertPolicy(port: number): 'none' | 'required' | 'mixed' {
    const entries = this.portTls.get(port)?.certificates ?? [];
    if (!entries.some((e) => e.clientCerts)) return 'none';
    return entries.every((e) => e.clientCerts === 'required') ? 'required' : 'mixed';
  }

  /** An HTTPS listener: the certificate by SNI (`pickCertificate`), HTTP/2 or HTTP/1.1 by ALPN. */
  private tlsServer(port: number): tls.Server | undefined {
    const first = this.tlsFor(port, undefined);
    if (!first) {
      this.log.info({ port }, 'gateway: HTTPS listener waits for its certificate from istiod');
      return undefined;
    }
    const policy = this.clientCertPolicy(port);
    const srv = tls.createServer(
      {
        ...first.options,
        ALPNProtocols: ['h2', 'http/1.1'],
        handshakeTimeout: 10_000,
        allowHalfOpen: true,
        requestCert: policy !== 'none',
        rejectUnauthorized: policy === 'required',
        SNICallback: (servername, cb) => cb(null, this.tlsFor(port, servername)?.context),
      },
      (s) => this.onTlsConnection(s, port),
    );
    srv.on('tlsClientError', (err, s) => {
      this.log.debug({ port, err: err.message, source: s.remoteAddress }, 'gateway: TLS handshake failed');
    });
    return srv;
  }

  /** A handshake is done: the entry its SNI picked decides on the client certificate. */
  private onTlsConnection(s: tls.TLSSocket, port: number): void {
    const t = this.tlsFor(port, s.servername || undefined);
    let clientCert: string | undefined;
    if (t?.entry.clientCerts) {
      const peer = s.getPeerX509Certificate();
      if ((t.entry.clientCerts === 'required' || peer) && !s.authorized) {
        this.log.debug(
          { port, source: s.remoteAddress, reason: s.authorizationError ?? 'no client certificate' },
          'gateway: client certificate refused',
        );
        s.destroy();
        return;
      }
      if (peer) clientCert = forwardedClientCert(peer);
    }
    this.serve(s, port, 'https', clientCert);
  }

  /** A listener's certificate for clients without SNI follows the credentials as they change. */
  private updateFallback(l: { server: net.Server; fallback?: tls.SecureContext }, port: number): void {
    const t = this.tlsFor(port, undefined);
    if (!t || t.context === l.fallback) return;
    (l.server as tls.Server).setSecureContext(t.options);
    l.fallback = t.context;
  }

  /**
   * What a handshake for `sni` on `port` gets: the certificate entry (`pickCertificate` among those
   * whose credentials have arrived) and its TLS context, with the client CA bundle for the mutual
   * modes. Contexts are made once per credential and CA and kept while both stay the same.
   */
  private tlsFor(
    port: number,
    sni: string | undefined,
  ): { entry: TlsEntry; context: tls.SecureContext; options: tls.SecureContextOptions } | undefined {
    const cfg = this.portTls.get(port);
    const creds = this.credentials;
    if (!cfg || !creds) return undefined;
    const usable = cfg.certificates.filter(
      (c) => creds.get(c.credential) && (!c.clientCerts || (c.caCredential && creds.ca(c.caCredential))),
    );
    const entry = pickCertificate(usable, sni);
    if (!entry) return undefined;
    const cert = creds.get(entry.credential)!;
    const ca = entry.clientCerts ? creds.ca(entry.caCredential!) : undefined;
    const key = `${entry.credential}|${entry.caCredential ?? ''}`;
    let made = this.contexts.get(key);
    if (!made || made.cert !== cert || made.ca !== ca) {
      const options: tls.SecureContextOptions = {
        cert: cert.cert,
        key: cert.key,
        minVersion: 'TLSv1.2',
        ...(ca ? { ca } : {}),
      };
      made = { cert, ca, options, context: ca ? tls.createSecureContext(options) : cert.context };
      this.contexts.set(key, made);
    }
    return { entry, context: made.context, options: made.options };
  }

  private certsFromCa(): Promise<CertSource> {
    this.ca = new ProxyCertificates(this.cfg, this.identity, this.log, this.registry);
    return this.ca.source();
  }
}
