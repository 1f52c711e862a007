import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { MeshError, errorMessage } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { adsServerDefinition } from '../../xds/grpc-services.js';
import { parseNodeId } from '../../xds/node-id.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../xds/type-urls.js';
import type { DeltaDiscoveryRequest } from '../../xds/discovery-types.js';
import { spiffeIdOf, type SpiffeId } from '../../pki/spiffe.js';
import { Debouncer } from './debouncer.js';
import { ResourceStore, type ResourceChanges } from './resource-store.js';
import { XdsConnection, type AdsCall, type ConnectionInfo } from './xds-connection.js';
import { createXdsMetrics, type XdsMetrics } from './xds-metrics.js';

export interface DeltaXdsServerOptions {
  /** Listen address; default 0.0.0.0. */
  host?: string;
  /** Listen port (istiod: 15010 plaintext, 15012 mTLS); 0 picks a free one. */
  port: number;
  /** Default: insecure (plaintext). */
  credentials?: grpc.ServerCredentials;
  registry: Registry;
  logger?: Logger;
  /** Served types; default the two ztunnel types. */
  typeUrls?: string[];
  /** Push debounce: quiet period (default 100 ms) and longest delay (default 10 s). */
  debounce?: { quietMs?: number; maxMs?: number };
  /**
   * Larger pushes are split into several responses of about this size; default 1 MiB. With one write in
   * flight per stream, this also bounds the bytes buffered per connection.
   */
  maxResponseBytes?: number;
  /**
   * Types whose resources are not for everyone: per type URL, whether the stream's peer (the SPIFFE
   * identity of its client certificate; undefined on the plaintext port) may have a resource.
   * Returns why not, or undefined. Wildcard subscriptions to these types get nothing.
   */
  authorize?: Record<string, ResourceAccess>;
}

/** Whether `peer` may have resource `name`: undefined if so, else the reason. */
export type ResourceAccess = (name: string, peer: SpiffeId | undefined) => string | undefined;

const INVALID_ARGUMENT = grpc.status.INVALID_ARGUMENT;

/**
 * istiod's delta ADS server (`envoy.service.discovery.v3.AggregatedDiscoveryService/
 * DeltaAggregatedResources`). The control plane feeds it with `apply(typeUrl, changes)`; each change is
 * encoded once, pushed after the debounce to every subscribed stream as a difference against what that
 * stream already has.
 */
export class DeltaXdsServer {
  readonly metrics: XdsMetrics;
  private readonly opts: DeltaXdsServerOptions;
  private readonly log: Logger;
  private readonly stores = new Map<string, ResourceStore>();
  private readonly conns = new Set<XdsConnection>();
  private readonly pending = new Map<string, Set<string>>();
  private pendingSince: number | undefined;
  private readonly debouncer: Debouncer;
  private grpcServer: grpc.Server | undefined;
  private nonceCounter = 0;
  private connCounter = 0;
  private version = 0;

  constructor(opts: DeltaXdsServerOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger();
    this.metrics = createXdsMetrics(opts.registry);
    for (const t of opts.typeUrls ?? [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL]) {
      this.stores.set(t, new ResourceStore(t));
    }
    this.debouncer = new Debouncer(opts.debounce?.quietMs ?? 100, opts.debounce?.maxMs ?? 10_000, () =>
      this.push(),
    );
  }

  /** Binds and serves; resolves to the bound port. */
  async start(): Promise<number> {
    const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
    this.addTo(server);
    const host = this.opts.host ?? '0.0.0.0';
    const address = host.includes(':') ? `[${host}]:${this.opts.port}` : `${host}:${this.opts.port}`;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(
        address,
        this.opts.credentials ?? grpc.ServerCredentials.createInsecure(),
        (err, bound) => {
          if (err) {
            reject(
              new MeshError(
                'XDS_ERR_LISTEN',
                `xDS server cannot listen on ${address}: ${err.message}; is the port in use?`,
                { cause: err },
              ),
            );
          } else resolve(bound);
        },
      );
    });
    this.grpcServer = server;
    this.log.info({ address, port }, 'delta xDS server listening');
    return port;
  }

  /** Adds the ADS service to a server the caller owns (to share a port with the CA). */
  addTo(server: grpc.Server): void {
    server.addService(adsServerDefinition, {
      DeltaAggregatedResources: (call: AdsCall) => this.onStream(call),
    });
  }

  /** Applies control-plane changes to one type; pushes after the debounce. */
  apply(typeUrl: string, changes: ResourceChanges): void {
    const store = this.stores.get(typeUrl);
    if (!store) {
      throw new MeshError(
        'XDS_ERR_UNKNOWN_TYPE',
        `type ${typeUrl} is not served; served: ${[...this.stores.keys()].join(', ')}`,
      );
    }
    const changed = store.apply(changes);
    if (changed.length === 0) return;
    let set = this.pending.get(typeUrl);
    if (!set) this.pending.set(typeUrl, (set = new Set()));
    for (const n of changed) set.add(n);
    this.pendingSince ??= Date.now();
    this.debouncer.touch();
  }

  /**
   * Checks every stream's subscriptions to a restricted type again, after what decides access changed
   * (ReferenceGrants); revoked resources are removed at the proxies.
   */
  reauthorize(typeUrl: string): void {
    for (const c of this.conns) c.reauthorize(typeUrl);
    for (const c of this.conns) c.flush();
  }

  /** The store of a type (read-only use). */
  store(typeUrl: string): ResourceStore | undefined {
    return this.stores.get(typeUrl);
  }

  /** Pushes pending changes now instead of waiting for the debounce. */
  flushNow(): void {
    this.debouncer.cancel();
    this.push();
  }

  connections(): ConnectionInfo[] {
    return [...this.conns].map((c) => c.info());
  }

  /** Ends every stream with OK and stops the server (forcefully after `graceMs`). */
  async stop(graceMs = 2000): Promise<void> {
    this.debouncer.cancel();
    for (const c of this.conns) c.close();
    const server = this.grpcServer;
    this.grpcServer = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private push(): void {
    const since = this.pendingSince ?? Date.now();
    this.pendingSince = undefined;
    if (this.pending.size === 0) return;
    this.version++;
    for (const [typeUrl, names] of this.pending) {
      for (const c of this.conns) c.markDirty(typeUrl, names, since);
    }
    this.pending.clear();
    for (const c of this.conns) c.flush();
  }

  private onStream(call: AdsCall): void {
    let conn: XdsConnection | undefined;
    let refused = false;
    const cleanup = (): void => {
      if (!conn) return;
      if (this.conns.delete(conn)) {
        this.metrics.connected.dec();
        this.log.info({ conn: conn.id, pod: conn.node.podName }, 'xds stream closed');
      }
      conn.dispose();
    };
    call.on('data', (req: DeltaDiscoveryRequest) => {
      if (refused) return;
      if (!conn) {
        const id = req.node?.id ?? '';
        const parsed = parseNodeId(id);
        if (!parsed.ok) {
          this.log.warn({ error: parsed.error }, 'xds stream refused');
          refused = true;
          call.emit('error', { code: INVALID_ARGUMENT, details: parsed.error });
          return;
        }
        const cert = call.getAuthContext?.()?.sslPeerCertificate;
        const peer = cert ? spiffeIdOf(cert) : undefined;
        const rules = this.opts.authorize ?? {};
        conn = new XdsConnection(`c${++this.connCounter}`, parsed.node, call, {
          refusal: (typeUrl, name) => {
            const rule = rules[typeUrl];
            return rule ? rule(name, peer) : undefined;
          },
          restricted: (typeUrl) => rules[typeUrl] !== undefined,
          stores: this.stores,
          metrics: this.metrics,
          log: this.log,
          maxResponseBytes: this.opts.maxResponseBytes ?? 1024 * 1024,
          nextNonce: () => (++this.nonceCounter).toString(36),
          systemVersion: () => String(this.version),
        });
        this.conns.add(conn);
        this.metrics.connected.inc();
        this.log.info({ conn: conn.id, node: id }, 'xds stream opened');
      }
      try {
        conn.handleRequest(req);
      } catch (err) {
        this.log.error({ conn: conn.id, err: errorMessage(err) }, 'xds request failed');
      }
    });
    call.on('end', () => {
      cleanup();
      call.end();
    });
    call.on('cancelled', cleanup);
    call.on('error', cleanup);
    call.on('close', cleanup);
  }
}
