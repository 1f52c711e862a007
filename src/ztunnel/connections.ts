import type { Duplex } from 'node:stream';
import type { SpiffeId } from '../pki/spiffe.js';
import type { BytePump } from '../common/pump.js';
import type { Workload } from './state/types.js';

/** An inbound connection that policy may have to close later (policies change while it runs). */
export interface TrackedInbound {
  dst: Workload;
  srcIdentity: SpiffeId | undefined;
  srcIp: string;
  dstIp: string;
  dstPort: number;
  /** Set once bytes flow; before that the connection is still being set up. */
  pump: BytePump | undefined;
  /** Closes the connection (with a reset). */
  abort(reason: Error): void;
}

/** The live connections of a ztunnel, for policy re-checks, drain and /config_dump. */
export class ConnectionTracker {
  readonly inbound = new Set<TrackedInbound>();
  outbound = 0;

  add(c: TrackedInbound): () => void {
    this.inbound.add(c);
    return () => this.inbound.delete(c);
  }
}

/** Resets a downstream that never got a tunnel. */
export function refuse(s: Duplex): void {
  if (s.destroyed) return;
  const sock = s as Duplex & { resetAndDestroy?: () => void };
  if (typeof sock.resetAndDestroy === 'function' && !s.writableEnded) sock.resetAndDestroy();
  else s.destroy();
}
