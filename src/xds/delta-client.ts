import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../common/logger.js';
import { silentLogger } from '../common/logger.js';
import { errorMessage } from '../common/errors.js';
import { decodeMessage } from './codec.js';
import { messageNameOf } from './type-urls.js';
import { openDeltaStream, type ReceivedDeltaResponse } from './grpc-services.js';
import type { DeltaDiscoveryRequest, DeltaResource, Node } from './discovery-types.js';

/** One resource of an accepted response. */
export interface ResourceUpdate<T> {
  name: string;
  version: string;
  value: T;
}

/**
 * What the client does with one type URL. Methods (not function properties) so that a
 * `TypeWatch<Address>` can sit in a list of `TypeWatch<unknown>`.
 */
export interface TypeWatch<T> {
  typeUrl: string;
  /** Decodes the Any's bytes; default: the message named by the type URL, as a plain object. */
  decode?(bytes: Uint8Array): T;
  /** Field-path errors for one resource (`workload.uid: must not be empty`); any error NACKs the response. */
  validate?(value: T, name: string): string[];
  /** Applies an accepted response; called before the ACK is sent. */
  onUpdate(upserts: ResourceUpdate<T>[], removals: string[]): void;
  /**
   * Apply the valid resources (and the removals) of a response that also had invalid ones, while
   * still NACKing it with their errors. Default false: any error rejects the whole response.
   */
  partial?: boolean;
  /** Subscribe to these resource names only (a waypoint: its own config); default: wildcard. */
  names?: readonly string[];
}

/** Reported once per response received. */
export interface ResponseEvent {
  typeUrl: string;
  nonce: string;
  upserted: string[];
  removed: string[];
  accepted: boolean;
  errors: string[];
  /** Size of the response message on the wire (protobuf bytes, without gRPC framing). */
  byteLength: number;
}

export interface DeltaClientOptions {
  /** `host:port` of the xDS server. */
  address: string;
  /** Default: insecure (plaintext, as istiod's 15010). */
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  node: Node;
  watches: TypeWatch<unknown>[];
  /** Reconnect backoff: doubling from initialMs (10 ms) up to maxMs (15 s), with jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
  logger?: Logger;
  onResponse?: (event: ResponseEvent) => void;
  onConnectionChange?: (connected: boolean) => void;
}

export interface DeltaClientStats {
  connects: number;
  responses: number;
  acks: number;
  nacks: number;
  bytesReceived: number;
}

const INVALID_ARGUMENT = 3;

/**
 * A delta xDS client over one ADS stream: wildcard subscription to each watched type, ACK after
 * applying, NACK with the validation errors in `error_detail`, and reconnect with backoff sending
 * `initial_resource_versions` so the server resends only what changed.
 */
export class DeltaClient {
  readonly stats: DeltaClientStats = {
    connects: 0,
    responses: 0,
    acks: 0,
    nacks: 0,
    bytesReceived: 0,
  };
  private readonly opts: DeltaClientOptions;
  private readonly log: Logger;
  private readonly client: grpc.Client;
  private readonly watches = new Map<string, TypeWatch<unknown>>();
  private readonly known = new Map<string, Map<string, string>>();
  private call: grpc.ClientDuplexStream<DeltaDiscoveryRequest, ReceivedDeltaResponse> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private closed = false;
  private started = false;

  constructor(opts: DeltaClientOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger();
    for (const w of opts.watches) {
      this.watches.set(w.typeUrl, w);
      this.known.set(w.typeUrl, new Map());
    }
    this.client = new grpc.Client(opts.address, opts.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      ...opts.channelOptions,
    });
  }

  /** Opens the stream (and keeps reopening it until close()). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    this.connect();
  }

  /** The versions the client holds for a type: name -> version. */
  versions(typeUrl: string): ReadonlyMap<string, string> {
    return this.known.get(typeUrl) ?? new Map();
  }

  /** Whether a stream is open now. */
  get connected(): boolean {
    return this.call !== undefined;
  }

  /** Ends the stream and stops reconnecting. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.client.close();
  }

  private connect(): void {
    if (this.closed) return;
    const call = openDeltaStream(this.client);
    this.call = call;
    this.stats.connects++;
    let done = false;
    const finish = (reason: string): void => {
      if (done) return;
      done = true;
      if (this.call === call) this.call = undefined;
      if (this.closed) return;
      this.opts.onConnectionChange?.(false);
      this.scheduleReconnect(reason);
    };
    call.on('data', (msg: ReceivedDeltaResponse) => this.onResponse(call, msg));
    call.on('error', (err: Error) => finish(errorMessage(err)));
    call.on('end', () => finish('stream ended by server'));
    call.on('close', () => finish('stream closed'));
    let first = true;
    for (const typeUrl of this.watches.keys()) {
      const req: DeltaDiscoveryRequest = {
        typeUrl,
        initialResourceVersions: Object.fromEntries(this.known.get(typeUrl) ?? []),
      };
      const names = this.watches.get(typeUrl)?.names;
      if (names?.length) req.resourceNamesSubscribe = [...names];
      if (first) req.node = this.opts.node;
      first = false;
      call.write(req);
    }
    this.opts.onConnectionChange?.(true);
  }

  private scheduleReconnect(reason: string): void {
    const initial = this.opts.backoff?.initialMs ?? 10;
    const max = this.opts.backoff?.maxMs ?? 15_000;
    const ceiling = Math.min(max, initial * 2 ** Math.min(this.attempt, 30));
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt++;
    this.log.warn({ reason, delayMs: Math.round(delay), attempt: this.attempt }, 'xds stream lost');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, delay);
    this.timer.unref();
  }

  private onResponse(
    call: grpc.ClientDuplexStream<DeltaDiscoveryRequest, ReceivedDeltaResponse>,
    msg: ReceivedDeltaResponse,
  ): void {
    this.attempt = 0;
    this.stats.responses++;
    this.stats.bytesReceived += msg.byteLength;
    const res = msg.response;
    const typeUrl = res.typeUrl ?? '';
    const nonce = res.nonce ?? '';
    const watch = this.watches.get(typeUrl);
    const removed = res.removedResources ?? [];
    const errors: string[] = [];
    const upserts: ResourceUpdate<unknown>[] = [];
    if (!watch) {
      errors.push(`type_url: ${typeUrl || '(empty)'} was not subscribed`);
    } else {
      for (const r of res.resources ?? []) this.decodeOne(watch, r, upserts, errors);
    }
    const accepted = errors.length === 0;
    if (watch && (accepted || watch.partial)) {
      const known = this.known.get(typeUrl);
      for (const u of upserts) known?.set(u.name, u.version);
      for (const name of removed) known?.delete(name);
      try {
        watch.onUpdate(upserts, removed);
      } catch (err) {
        this.log.error({ err: errorMessage(err), typeUrl }, 'xds update handler failed');
      }
    }
    const ack: DeltaDiscoveryRequest = { typeUrl, responseNonce: nonce };
    if (accepted) this.stats.acks++;
    else {
      this.stats.nacks++;
      ack.errorDetail = { code: INVALID_ARGUMENT, message: errors.join('; ') };
      this.log.warn({ typeUrl, nonce, errors }, 'xds response rejected (NACK)');
    }
    if (this.call === call) call.write(ack);
    this.opts.onResponse?.({
      typeUrl,
      nonce,
      upserted: upserts.map((u) => u.name),
      removed,
      accepted,
      errors,
      byteLength: msg.byteLength,
    });
  }

  private decodeOne(
    watch: TypeWatch<unknown>,
    r: DeltaResource,
    out: ResourceUpdate<unknown>[],
    errors: string[],
  ): void {
    const name = r.name ?? '';
    const any = r.resource;
    if (!any || any.typeUrl !== watch.typeUrl) {
      errors.push(`${name}: resource.type_url is ${any?.typeUrl ?? '(missing)'}, expected ${watch.typeUrl}`);
      return;
    }
    let value: unknown;
    try {
      const bytes = any.value ?? new Uint8Array(0);
      value = watch.decode ? watch.decode(bytes) : decodeMessage(messageNameOf(watch.typeUrl), bytes);
    } catch (err) {
      errors.push(`${name}: ${errorMessage(err)}`);
      return;
    }
    const problems = watch.validate?.(value, name) ?? [];
    for (const p of problems) errors.push(`${name}: ${p}`);
    if (problems.length === 0) out.push({ name, version: r.version ?? '', value });
  }
}
