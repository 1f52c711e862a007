/**
 * The waypoint: HBONE in on 15008 with its own identity, the L7 engine, HBONE out to the chosen
 * endpoint with the same identity; its configuration from istiod (its own ProxyConfig resource);
 * metrics on 15020, readiness on 15021. main.ts runs it as a process; tests run it in-process.
 */
import type http from 'node:http';
import { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { createRegistry } from '../common/metrics.js';
import type { CertSource } from '../hbone/credentials.js';
import { HbonePool } from '../hbone/pool.js';
import { HboneServer } from '../hbone/server.js';
import { ProxyCertificates } from '../identity/proxy-certs.js';
import { engineDebugView } from '../l7/debug-view.js';
import { L7Engine } from '../l7/engine.js';
import type { L7Config } from '../l7/model.js';
import type { SpiffeId } from '../pki/spiffe.js';
import type { DeltaClient } from '../xds/delta-client.js';
import type { WaypointConfig } from './config.js';
import { watchProxyConfig } from './config-watch.js';
import { HboneConnector } from './connector.js';
import { handleTunnel } from './inbound.js';
import { startStatusServers } from './status-servers.js';

export interface WaypointDeps {
  logger: Logger;
  registry?: Registry;
  /** The waypoint's certificate; default: from istiod's CA with --token-file. */
  certs?: CertSource;
  /** Trust domains of peers; default the waypoint's. */
  trustDomains?: string[];
}

export class Waypoint {
  readonly registry: Registry;
  readonly ports = { hbone: 0, metrics: 0, readiness: 0 };
  engine!: L7Engine;
  private readonly log: Logger;
  private server: HboneServer | undefined;
  private pool: HbonePool | undefined;
  private xds: DeltaClient | undefined;
  private ca: ProxyCertificates | undefined;
  private readonly http: http.Server[] = [];
  private configured = false;
  private readyWaiters: Array<() => void> = [];

  constructor(
    readonly cfg: WaypointConfig,
    private readonly deps: WaypointDeps,
  ) {
    this.log = deps.logger;
    this.registry = deps.registry ?? createRegistry('waypoint', { defaultMetrics: true });
  }

  get identity(): SpiffeId {
    return {
      trustDomain: this.cfg.trustDomain,
      namespace: this.cfg.namespace,
      serviceAccount: this.cfg.serviceAccount || this.cfg.name,
    };
  }

  get ready(): boolean {
    return this.configured;
  }

  whenReady(): Promise<void> {
    if (this.configured) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  /** Applies a configuration (from xDS, or directly in tests). */
  apply(config: L7Config): void {
    this.engine.update(config);
    this.log.info(
      { services: config.services.map((s) => s.hostname), clusters: config.clusters.length },
      'waypoint configuration applied',
    );
    if (!this.configured) {
      this.configured = true;
      for (const w of this.readyWaiters.splice(0)) w();
    }
  }

  async start(opts: { watchXds?: boolean } = {}): Promise<void> {
    const certs = this.deps.certs ?? (await this.certsFromCa());
    const trustDomains = this.deps.trustDomains ?? [this.cfg.trustDomain];
    this.pool = new HbonePool({ logger: this.log, registry: this.registry, trustDomains });
    this.engine = new L7Engine({
      connector: new HboneConnector(this.pool, certs),
      log: this.log.child({ part: 'access' }),
      registry: this.registry,
      reporter: 'waypoint',
      clusterId: this.cfg.clusterId,
      accessLog: this.cfg.accessLog,
    });
    this.server = new HboneServer({
      certs,
      trustDomains,
      logger: this.log,
      registry: this.registry,
      onRequest: (req) => handleTunnel(req, this.engine, this.log),
    });
    const a = await this.server.listen(this.cfg.hbonePort, this.cfg.podIp);
    this.ports.hbone = a.port;
    this.log.info(
      { address: `${a.address}:${a.port}`, identity: certs.current().uri },
      'waypoint: HBONE listening',
    );
    if (opts.watchXds !== false) {
      this.xds = watchProxyConfig({
        address: this.cfg.xdsAddress,
        name: this.cfg.name,
        namespace: this.cfg.namespace,
        podName: this.cfg.podName || `${this.cfg.name}-0`,
        podIp: this.cfg.podIp,
        logger: this.log.child({ part: 'xds' }),
        onConfig: (c) => this.apply(c),
      });
    }
    await this.startHttp();
  }

  async stop(): Promise<void> {
    this.xds?.close();
    await this.server?.drain(500);
    await this.server?.close();
    this.engine?.close();
    this.pool?.close();
    this.ca?.close();
    for (const s of this.http) s.close();
  }

  private certsFromCa(): Promise<CertSource> {
    this.ca = new ProxyCertificates(this.cfg, this.identity, this.log, this.registry);
    return this.ca.source();
  }

  private async startHttp(): Promise<void> {
    // In a pod's own network namespace every address is the pod's (Istio's proxies listen on all);
    // pods that are loopback addresses on a shared host keep to their own.
    const st = await startStatusServers({
      registry: this.registry,
      ready: () => this.configured,
      metricsPort: this.cfg.metricsPort,
      readinessPort: this.cfg.readinessPort,
      host: this.cfg.podIp.startsWith('127.') ? this.cfg.podIp : '0.0.0.0',
      debugEndpoints: () => engineDebugView(this.engine),
    });
    this.http.push(...st.servers);
    this.ports.metrics = st.metrics;
    this.ports.readiness = st.readiness;
  }
}

export { Registry };
