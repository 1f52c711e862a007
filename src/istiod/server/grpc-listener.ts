/**
 * The gRPC port istiod owns (15010 plaintext): delta ADS, and whatever else registers (the CA).
 *
 * ADS streams that open before the initial state is ready are held, not served: served from an empty
 * store, a reconnecting proxy that sent `initial_resource_versions` would be told to remove everything
 * it has. Held streams keep their first requests buffered in the stream and are handed to the xDS
 * server on `release()`.
 */
import * as grpc from '@grpc/grpc-js';
import { MeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { DeltaXdsServer } from '../xds/delta-server.js';
import type { AdsCall } from '../xds/xds-connection.js';

type AdsHandler = (call: AdsCall) => void;

export class GrpcListener {
  readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 16 * 1024 * 1024 });
  private handler: AdsHandler | undefined;
  private held = new Set<AdsCall>();
  private released = false;
  private bound = false;

  constructor(private readonly log: Logger) {}

  /** Registers the delta ADS service of `xds`, holding streams until `release()`. */
  addAds(xds: DeltaXdsServer): void {
    const gate = {
      addService: (definition: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation) => {
        const serve = impl.DeltaAggregatedResources as AdsHandler;
        this.handler = serve;
        this.server.addService(definition, { DeltaAggregatedResources: (call: AdsCall) => this.admit(call) });
      },
    };
    xds.addTo(gate as unknown as grpc.Server);
  }

  /** ADS streams open but waiting for the initial state. */
  get heldStreams(): number {
    return this.held.size;
  }

  /** Serves the held streams and every later one. */
  release(): void {
    if (this.released) return;
    this.released = true;
    const held = [...this.held];
    this.held.clear();
    if (held.length > 0) this.log.info({ streams: held.length }, 'serving xds streams that waited for sync');
    for (const call of held) if (!call.cancelled) this.handler?.(call);
  }

  async bind(
    host: string,
    port: number,
    credentials = grpc.ServerCredentials.createInsecure(),
  ): Promise<number> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const bound = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address, credentials, (err, p) => {
        if (err)
          reject(
            new MeshError(
              'XDS_ERR_LISTEN',
              `istiod cannot listen on ${address} (gRPC): ${err.message}; is the port in use?`,
              { cause: err },
            ),
          );
        else resolve(p);
      });
    });
    this.bound = true;
    this.log.info({ address, port: bound }, 'gRPC (delta xDS) listening');
    return bound;
  }

  /** Stops accepting, ends held streams with UNAVAILABLE, waits `graceMs` for the rest, then forces. */
  async stop(graceMs = 2000): Promise<void> {
    for (const call of this.held) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'istiod is shutting down' });
    }
    this.held.clear();
    if (!this.bound) return;
    this.bound = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private admit(call: AdsCall): void {
    if (this.released) return this.handler?.(call);
    this.held.add(call);
    const forget = (): void => void this.held.delete(call);
    call.once('cancelled', forget);
    call.once('close', forget);
  }
}
