/**
 * The ingress gateway: the L7 engine behind plain HTTP listeners at the edge. Its configuration from
 * istiod (`<ns>/<deployment>`) names the listener ports; a listener opens for each and closes when the
 * port goes. Upstream it speaks HBONE to mesh pods (or to a waypoint, with ingress-use-waypoint) with
 * its own identity (`<deployment>` service account), plain TCP to pods outside the mesh.
 */
import net from 'node:net';
import type http from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { createRegistry } from '../common/metrics.js';
import type { CertSource } from '../hbone/credentials.js';
import { HbonePool } from '../hbone/pool.js';
import { ProxyCertificates } from '../identity/proxy-certs.js';
import { L7Engine } from '../l7/engine.js';
import type { L7Config } from '../l7/model.js';
import type { SpiffeId } from '../pki/spiffe.js';
import type { DeltaClient } from '../xds/delta-client.js';
import type { WaypointConfig } from '../waypoint/config.js';
import { watchProxyConfig } from '../waypoint/config-watch.js';
import { HboneConnector } from '../waypoint/connector.js';
import { startStatusServers } from '../waypoint/status-servers.js';

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
  private readonly listeners = new Map<number, net.Server>();
  private readonly status: http.Server[] = [];
  private pool: HbonePool | undefined;
  private xds: DeltaClient | undefined;
  private ca: ProxyCertificates | undefined;
  private configured = false;
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    readonly cfg: WaypointConfig,
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
    const want = new Set(config.services.flatMap((s) => s.ports.map((p) => p.port)));
    this.syncing = this.syncing.then(() => this.syncListeners(want));
    return this.syncing.then(() => {
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
    for (const s of [...this.listeners.values(), ...this.status]) s.close();
    this.engine?.close();
    this.pool?.close();
    this.ca?.close();
  }

  private async syncListeners(want: Set<number>): Promise<void> {
    for (const [port, srv] of this.listeners) {
      if (want.has(port)) continue;
      srv.close();
      this.listeners.delete(port);
    }
    const host = this.cfg.podIp.startsWith('127.') ? this.cfg.podIp : '0.0.0.0';
    for (const port of want) {
      if (this.listeners.has(port)) continue;
      const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
        s.on('error', () => undefined);
        this.engine.serve(s, {
          targetIp: LISTEN_IP,
          targetPort: port,
          sourceIp: s.remoteAddress ?? '',
          sourcePort: s.remotePort ?? 0,
          sourcePrincipal: '',
          mtls: false,
        });
      });
      try {
        await new Promise<void>((res, rej) => {
          srv.once('error', rej);
          srv.listen(port, host, () => res());
        });
        this.listeners.set(port, srv);
      } catch (err) {
        this.log.error(
          { port, err: (err as Error).message },
          'gateway: cannot listen on the port; check the Gateway listeners',
        );
      }
    }
  }

  private certsFromCa(): Promise<CertSource> {
    this.ca = new ProxyCertificates(this.cfg, this.identity, this.log, this.registry);
    return this.ca.source();
  }
}
