/**
 * istiod as one object: configuration source → ConfigStore → AmbientIndex → DeltaXdsServer, plus the
 * monitoring port. main.ts runs it as a process; tests and the local cluster run it in-process.
 *
 * The initial state is pushed once the source has synced and the index is built; streams that open
 * earlier wait (see GrpcListener). After that, every change set of the index goes to the xDS server,
 * which debounces and pushes only what changed.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { silentLogger, type Logger } from '../common/logger.js';
import { createRegistry } from '../common/metrics.js';
import type { ConfigSource } from './config/source.js';
import { ConfigStore } from './config/store.js';
import type { ConfigIssue } from './config/validate.js';
import { AmbientIndex, type ChangeSet } from './model/ambient-index.js';
import { DeltaXdsServer } from './xds/delta-server.js';
import {
  ADDRESS_TYPE_URL,
  AUTHORIZATION_TYPE_URL,
  PROXY_CONFIG_TYPE_URL,
  SECRET_TYPE_URL,
} from '../xds/type-urls.js';
import { credentialAccess } from './server/credentials.js';
import { ReferenceGrants } from './l7/reference-grants.js';
import { createConfigMetrics, type ConfigMetrics } from './server/config-metrics.js';
import { GrpcListener } from './server/grpc-listener.js';
import { IndexFeeder } from './server/index-feeder.js';
import { MonitoringServer } from './server/monitoring-server.js';
import { NodeIdentities, type PodOnNode } from './server/node-identities.js';
import { debugViews } from './server/debug-views.js';
import { WaypointPublisher } from './server/waypoint-publisher.js';

export interface ListenAddress {
  host: string;
  /** 0 picks a free port (see `Istiod.ports` after start). */
  port: number;
}

export interface IstiodOptions {
  /** Where configuration comes from (DirectorySource or KubernetesSource); Istiod starts and stops it. */
  source: ConfigSource;
  /** Plaintext gRPC (delta xDS, and the CA when it registers): Istio's 15010. */
  xdsAddress: ListenAddress;
  /** HTTP /metrics, /ready, /debug/*: Istio's 15014. Omit to run without it. */
  monitoringAddress?: ListenAddress;
  trustDomain?: string;
  clusterId?: string;
  rootNamespace?: string;
  /** Percentage of the traces a waypoint starts that are sampled (PILOT_TRACE_SAMPLING); default 1. */
  traceSampling?: number;
  /** Push debounce; default 100 ms quiet, 10 s at most. */
  debounce?: { quietMs: number; maxMs: number };
  logger?: Logger;
  /** Default: a fresh registry with the process metrics. */
  registry?: Registry;
  /**
   * Hook for more gRPC services on the same port (the CA): called once with the server before it
   * binds. The index's node queries are on the Istiod instance (`podsOnNode`, `identityOnNode`).
   */
  grpcServices?: Array<(server: grpc.Server, istiod: Istiod) => void>;
  /** Grace for open streams at stop before they are cut; default 2 s. */
  stopGraceMs?: number;
  /**
   * The mTLS port (Istio's 15012): the same services (xDS, the CA) with TLS; clients may present a mesh
   * certificate. `credentials` is asked for once, at bind.
   */
  secure?: { address: ListenAddress; credentials: () => grpc.ServerCredentials };
}

export class Istiod {
  readonly registry: Registry;
  readonly store = new ConfigStore();
  readonly index: AmbientIndex;
  readonly xds: DeltaXdsServer;
  readonly source: ConfigSource;
  readonly metrics: ConfigMetrics;
  readonly ports = { xds: 0, monitoring: 0, secureXds: 0 };
  private readonly opts: IstiodOptions;
  private readonly log: Logger;
  private readonly grpc: GrpcListener;
  private readonly grpcSecure: GrpcListener | undefined;
  private readonly monitoring: MonitoringServer | undefined;
  private readonly identities = new NodeIdentities();
  private readonly feeder: IndexFeeder;
  /** Each waypoint's L7 configuration (meshlite.l7.ProxyConfig). */
  readonly waypoints: WaypointPublisher;
  private readonly detach: Array<() => void> = [];
  private knownIssues = new Set<string>();
  private built = false;
  private stopped = false;
  private readyWaiters: Array<() => void> = [];

  constructor(opts: IstiodOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger();
    this.registry = opts.registry ?? createRegistry('istiod', { defaultMetrics: true });
    this.source = opts.source;
    this.metrics = createConfigMetrics(this.registry);
    this.index = new AmbientIndex({
      trustDomain: opts.trustDomain,
      clusterId: opts.clusterId,
      rootNamespace: opts.rootNamespace,
    });
    this.xds = new DeltaXdsServer({
      port: opts.xdsAddress.port,
      registry: this.registry,
      logger: this.log.child({ part: 'xds' }),
      debounce: opts.debounce,
      typeUrls: [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, PROXY_CONFIG_TYPE_URL, SECRET_TYPE_URL],
      authorize: {
        [SECRET_TYPE_URL]: credentialAccess(
          opts.trustDomain ?? 'cluster.local',
          () => new ReferenceGrants(this.store.list('ReferenceGrant')),
        ),
      },
    });
    this.grpc = new GrpcListener(this.log.child({ part: 'grpc' }));
    this.grpc.addAds(this.xds);
    for (const register of opts.grpcServices ?? []) register(this.grpc.server, this);
    if (opts.secure) {
      this.grpcSecure = new GrpcListener(this.log.child({ part: 'grpc-mtls' }));
      this.grpcSecure.addAds(this.xds);
      for (const register of opts.grpcServices ?? []) register(this.grpcSecure.server, this);
    }
    this.feeder = new IndexFeeder(
      this.store,
      this.index,
      this.metrics,
      this.log.child({ part: 'index' }),
      (c) => this.publish(c),
    );
    this.waypoints = new WaypointPublisher(
      this.store,
      this.xds,
      {
        trustDomain: opts.trustDomain ?? 'cluster.local',
        domainSuffix: 'cluster.local',
        traceSampling: opts.traceSampling,
        rootNamespace: opts.rootNamespace,
      },
      this.log.child({ part: 'waypoints' }),
    );
    this.detach.push(() => this.waypoints.stop());
    this.detach.push(this.store.attach(this.source));
    this.detach.push(this.source.subscribe({ issues: (i) => this.onIssues(i) }));
    this.monitoring = opts.monitoringAddress
      ? new MonitoringServer(this.registry, debugViews(this), this.log.child({ part: 'monitoring' }))
      : undefined;
  }

  /** The gRPC server of the xDS port, for services that share it (the CA). */
  get grpcServer(): grpc.Server {
    return this.grpc.server;
  }

  /** Synced, index built, initial state handed to the xDS server. */
  get ready(): boolean {
    return this.built && !this.stopped;
  }

  /** xDS streams already open but waiting for the initial state (before ready). */
  get waitingStreams(): number {
    return this.grpc.heldStreams;
  }

  /** Why /ready answers 503, or undefined when ready. */
  notReadyReason(): string | undefined {
    if (this.stopped) return 'shutting down';
    if (!this.source.synced) return `waiting for the configuration source (${this.source.name}) to sync`;
    if (!this.built) return 'building the ambient index';
    return undefined;
  }

  whenReady(): Promise<void> {
    if (this.built) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** Binds both ports and starts the source; the initial push follows once the source has synced. */
  async start(): Promise<void> {
    this.ports.xds = await this.grpc.bind(this.opts.xdsAddress.host, this.opts.xdsAddress.port);
    if (this.grpcSecure && this.opts.secure) {
      const a = this.opts.secure.address;
      this.ports.secureXds = await this.grpcSecure.bind(a.host, a.port, this.opts.secure.credentials());
    }
    if (this.monitoring && this.opts.monitoringAddress) {
      const m = this.opts.monitoringAddress;
      this.ports.monitoring = await this.monitoring.start(m.host, m.port);
    }
    void this.source.whenSynced().then(() => this.onSynced());
    await this.source.start();
  }

  /** Stops accepting, ends every xDS stream, stops the source. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.log.info('istiod stopping');
    this.feeder.stop();
    for (const d of this.detach.splice(0)) d();
    const grace = this.opts.stopGraceMs ?? 2000;
    await this.xds.stop(grace);
    await this.grpc.stop(grace);
    await this.grpcSecure?.stop(grace);
    await this.monitoring?.stop();
    await this.source.stop();
  }

  /** The pods the index places on `node`, with their SPIFFE ids (for the CA's node checks). */
  podsOnNode(node: string): PodOnNode[] {
    return this.identities.podsOnNode(node);
  }

  /** The node ↔ identity view, in the shape the CA asks its questions in. */
  get nodeIdentities(): NodeIdentities {
    return this.identities;
  }

  /** Whether a pod with identity `spiffeId` runs on `node` (may that node's proxy ask for it?). */
  identityOnNode(spiffeId: string, node: string): boolean {
    return this.identities.identityOnNode(spiffeId, node);
  }

  /** The current configuration problems (as the source reports them). */
  issues(): readonly ConfigIssue[] {
    return this.source.issues();
  }

  private onSynced(): void {
    if (this.stopped) return;
    this.feeder.loadAll();
    this.waypoints.publish();
    this.xds.flushNow();
    this.built = true;
    this.grpc.release();
    this.grpcSecure?.release();
    this.log.info(
      {
        objects: this.store.size,
        addresses: this.xds.store(ADDRESS_TYPE_URL)?.size ?? 0,
        authorizations: this.xds.store(AUTHORIZATION_TYPE_URL)?.size ?? 0,
        waypoints: this.waypoints.count,
      },
      'configuration synced; serving xds',
    );
    for (const w of this.readyWaiters.splice(0)) w();
  }

  /** One change set of the index → the xDS server (both types) and the node identity view. */
  private publish(c: ChangeSet): void {
    this.identities.apply(c);
    for (const [typeUrl, delta] of [
      [ADDRESS_TYPE_URL, c.addresses],
      [AUTHORIZATION_TYPE_URL, c.authorizations],
    ] as const) {
      if (delta.upserted.size === 0 && delta.removed.size === 0) continue;
      const upserts: Array<{ name: string; message: object }> = [];
      for (const [name, message] of delta.upserted) upserts.push({ name, message });
      this.xds.apply(typeUrl, { upserts, removals: [...delta.removed] });
    }
    this.metrics.resources.set({ type: 'address' }, this.xds.store(ADDRESS_TYPE_URL)?.size ?? 0);
    this.metrics.resources.set({ type: 'authorization' }, this.xds.store(AUTHORIZATION_TYPE_URL)?.size ?? 0);
  }

  /** Counts each new problem once by kind (the source logs it once, when it appears). */
  private onIssues(issues: readonly ConfigIssue[]): void {
    const now = new Set<string>();
    for (const i of issues) {
      now.add(i.text);
      if (!this.knownIssues.has(i.text)) this.metrics.rejected.inc({ kind: i.kind ?? 'unknown' });
    }
    this.knownIssues = now;
    this.metrics.issues.set(issues.length);
  }
}
