import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/logger.js';
import { frameDeltaResponse, framedResourceSize } from '../../xds/frame.js';
import type { DeltaDiscoveryRequest } from '../../xds/discovery-types.js';
import type { NodeId } from '../../xds/node-id.js';
import type { ResourceStore } from './resource-store.js';
import { typeLabel, type XdsMetrics } from './xds-metrics.js';

/** Change times kept per type while a proxy has not ACKed (the oldest go first). */
const MAX_UNACKED = 64;

export type AdsCall = grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>;

/** What a connection needs from its server. */
export interface ConnectionContext {
  stores: ReadonlyMap<string, ResourceStore>;
  metrics: XdsMetrics;
  log: Logger;
  maxResponseBytes: number;
  nextNonce(): string;
  systemVersion(): string;
  /** Why this stream may not have a resource of a restricted type, or undefined. */
  refusal(typeUrl: string, name: string): string | undefined;
  /** Whether a type's resources are restricted (no wildcard subscriptions). */
  restricted(typeUrl: string): boolean;
}

/** One type URL's state on one stream. */
interface TypeState {
  store: ResourceStore;
  label: string;
  wildcard: boolean;
  names: Set<string>;
  /** What the client has (or was sent): name -> version. */
  sent: Map<string, string>;
  /** Names that may differ between the store and `sent`; bounded by the number of names. */
  dirty: Set<string>;
  lastNonce: string | undefined;
  /** Oldest change among dirty names not yet sent. */
  dirtySince: number | undefined;
  /**
   * When each change sent but not yet acknowledged happened. The proxy's ACK of the latest response
   * covers them all (an ACK of an older nonce is stale and ignored, as in Istio).
   */
  unacked: number[];
  /**
   * True until the first response for this subscription went out. That first response is sent even
   * when empty (as Istio does), so a proxy can tell "synced, nothing there" from "not synced yet".
   */
  initialPending: boolean;
}

/** Debug view of a connection. */
export interface ConnectionInfo {
  id: string;
  node: NodeId;
  /** Names waiting to be sent, over all types (the coalesced send queue). */
  queueDepth: number;
  writePending: boolean;
  bytesSent: number;
  responsesSent: number;
  acks: number;
  nacks: number;
}

/** Guess of the header size of a response, for chunking. */
const HEADER_ALLOWANCE = 512;

/**
 * One delta ADS stream. Sends only differences between the store and what the client has, at most one
 * write in flight: while a write is pending, further changes only grow the dirty set (bounded by the
 * number of resource names), so a slow client costs O(resources), not O(updates).
 */
export class XdsConnection {
  readonly id: string;
  readonly node: NodeId;
  bytesSent = 0;
  responsesSent = 0;
  acks = 0;
  nacks = 0;
  private readonly call: AdsCall;
  private readonly ctx: ConnectionContext;
  private readonly types = new Map<string, TypeState>();
  private writing = false;
  private closed = false;
  private rotate = 0;

  constructor(id: string, node: NodeId, call: AdsCall, ctx: ConnectionContext) {
    this.id = id;
    this.node = node;
    this.call = call;
    this.ctx = ctx;
  }

  info(): ConnectionInfo {
    return {
      id: this.id,
      node: this.node,
      queueDepth: this.queueDepth,
      writePending: this.writing,
      bytesSent: this.bytesSent,
      responsesSent: this.responsesSent,
      acks: this.acks,
      nacks: this.nacks,
    };
  }

  get queueDepth(): number {
    let n = 0;
    for (const t of this.types.values()) n += t.dirty.size;
    return n;
  }

  /** Handles one request from the client: a subscription, an ACK or a NACK. */
  handleRequest(req: DeltaDiscoveryRequest): void {
    const typeUrl = req.typeUrl ?? '';
    const store = this.ctx.stores.get(typeUrl);
    if (!store) {
      this.ctx.log.warn({ conn: this.id, typeUrl }, 'xds request for an unknown type ignored');
      return;
    }
    const nonce = req.responseNonce ?? '';
    let state = this.types.get(typeUrl);
    if (nonce !== '') {
      if (!state || nonce !== state.lastNonce) {
        this.ctx.metrics.expiredNonces.inc({ type: typeLabel(typeUrl) });
        this.ctx.log.debug({ conn: this.id, typeUrl, nonce }, 'xds request with a stale nonce ignored');
        return;
      }
      this.onAckOrNack(state, req);
    }
    if (!state) {
      state = this.subscribe(store, req);
    } else {
      this.changeSubscription(state, req);
    }
    this.flush();
  }

  /** Marks names changed in the store (called by the server after the debounce). */
  markDirty(typeUrl: string, names: Iterable<string>, changedAt: number): void {
    const state = this.types.get(typeUrl);
    if (!state) return;
    let any = false;
    for (const name of names) {
      if (state.wildcard || state.names.has(name)) {
        state.dirty.add(name);
        any = true;
      }
    }
    if (any && state.dirtySince === undefined) state.dirtySince = changedAt;
  }

  /**
   * Checks this stream's subscriptions to a restricted type again (what grants access changed): a name
   * it may no longer have is unsubscribed, and removed at the client if it was sent.
   */
  reauthorize(typeUrl: string): void {
    const state = this.types.get(typeUrl);
    if (!state) return;
    for (const name of [...state.names]) {
      if (this.permitted(typeUrl, name)) continue;
      state.names.delete(name);
      state.dirty.add(name);
    }
  }

  /** Sends what differs, one response at a time. */
  flush(): void {
    if (this.writing || this.closed) return;
    const states = [...this.types.values()];
    for (let i = 0; i < states.length; i++) {
      const state = states[(this.rotate + i) % states.length];
      if (!state || (state.dirty.size === 0 && !state.initialPending)) continue;
      if (this.sendOne(state)) {
        this.rotate = (this.rotate + i + 1) % states.length;
        return;
      }
    }
  }

  /** Ends the stream with OK (server stopping). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.call.end();
  }

  /** Forgets everything (the client went away). */
  dispose(): void {
    this.closed = true;
    this.types.clear();
  }

  private subscribe(store: ResourceStore, req: DeltaDiscoveryRequest): TypeState {
    const subs = req.resourceNamesSubscribe ?? [];
    const restricted = this.ctx.restricted(store.typeUrl);
    const state: TypeState = {
      store,
      label: typeLabel(store.typeUrl),
      wildcard: !restricted && (subs.length === 0 || subs.includes('*')),
      names: new Set(subs.filter((n) => n !== '*' && this.permitted(store.typeUrl, n))),
      sent: new Map(Object.entries(req.initialResourceVersions ?? {})),
      dirty: new Set(),
      lastNonce: undefined,
      dirtySince: undefined,
      unacked: [],
      initialPending: true,
    };
    for (const name of state.wildcard ? store.names() : state.names) state.dirty.add(name);
    for (const name of state.sent.keys()) state.dirty.add(name);
    this.types.set(store.typeUrl, state);
    return state;
  }

  private changeSubscription(state: TypeState, req: DeltaDiscoveryRequest): void {
    for (const name of req.resourceNamesSubscribe ?? []) {
      if (name === '*') {
        if (this.ctx.restricted(state.store.typeUrl)) continue;
        state.wildcard = true;
        for (const n of state.store.names()) state.dirty.add(n);
      } else if (this.permitted(state.store.typeUrl, name)) {
        state.names.add(name);
        state.dirty.add(name);
      }
    }
    for (const name of req.resourceNamesUnsubscribe ?? []) {
      if (name === '*') state.wildcard = false;
      else {
        state.names.delete(name);
        state.sent.delete(name);
        state.dirty.delete(name);
      }
    }
  }

  /** Whether this stream may subscribe to `name`; a refusal is logged and counted. */
  private permitted(typeUrl: string, name: string): boolean {
    const why = this.ctx.refusal(typeUrl, name);
    if (why === undefined) return true;
    this.ctx.metrics.refusedSubscriptions.inc({ type: typeLabel(typeUrl) });
    this.ctx.log.warn(
      { conn: this.id, node: this.node.podName, typeUrl, resource: name, reason: why },
      `xds subscription refused: ${why}`,
    );
    return false;
  }

  private onAckOrNack(state: TypeState, req: DeltaDiscoveryRequest): void {
    const converged = state.unacked;
    state.unacked = [];
    if (req.errorDetail) {
      this.nacks++;
      this.ctx.metrics.rejects.inc({ type: state.label });
      this.ctx.log.warn(
        {
          conn: this.id,
          node: this.node.podName,
          typeUrl: state.store.typeUrl,
          nonce: req.responseNonce,
          code: req.errorDetail.code,
          error: req.errorDetail.message,
        },
        'proxy rejected xds response (NACK); not resending until the config changes',
      );
      return;
    }
    this.acks++;
    const now = Date.now();
    for (const since of converged) this.ctx.metrics.convergence.observe((now - since) / 1000);
  }

  /** Builds and writes one response for a type; false if nothing differed. */
  private sendOne(state: TypeState): boolean {
    const started = process.hrtime.bigint();
    const resources: Uint8Array[] = [];
    const removed: string[] = [];
    let size = HEADER_ALLOWANCE;
    for (const name of state.dirty) {
      if (size >= this.ctx.maxResponseBytes && (resources.length > 0 || removed.length > 0)) break;
      state.dirty.delete(name);
      if (!state.wildcard && !state.names.has(name)) {
        // No longer subscribed (its access was revoked): the client is told to drop it.
        if (state.sent.delete(name)) {
          removed.push(name);
          size += name.length + 4;
        }
        continue;
      }
      const entry = state.store.get(name);
      const have = state.sent.get(name);
      if (entry) {
        if (entry.version === have) continue;
        resources.push(entry.encoded);
        state.sent.set(name, entry.version);
        size += framedResourceSize(entry.encoded);
      } else if (have !== undefined) {
        removed.push(name);
        state.sent.delete(name);
        size += name.length + 4;
      }
    }
    if (state.dirty.size === 0) {
      if (state.dirtySince !== undefined) {
        // Bounded: a proxy that never ACKs must not grow this.
        if (state.unacked.length >= MAX_UNACKED) state.unacked.shift();
        state.unacked.push(state.dirtySince);
      }
      state.dirtySince = undefined;
    }
    if (resources.length === 0 && removed.length === 0 && !state.initialPending) return false;
    state.initialPending = false;
    const nonce = this.ctx.nextNonce();
    state.lastNonce = nonce;
    const buf = frameDeltaResponse(
      {
        typeUrl: state.store.typeUrl,
        nonce,
        systemVersionInfo: this.ctx.systemVersion(),
        removedResources: removed,
      },
      resources,
    );
    this.writing = true;
    this.bytesSent += buf.length;
    this.responsesSent++;
    this.call.write(buf, this.onWritten);
    const m = this.ctx.metrics;
    m.pushes.inc({ type: state.label });
    m.bytesSent.inc({ type: state.label }, buf.length);
    m.pushTime.observe({ type: state.label }, Number(process.hrtime.bigint() - started) / 1e9);
    return true;
  }

  private readonly onWritten = (): void => {
    this.writing = false;
    this.flush();
  };
}
