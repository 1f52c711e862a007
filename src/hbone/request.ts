import type { IncomingHttpHeaders } from 'node:http2';
import type { HboneServerStream } from './server.js';
import type { SpiffeId } from '../pki/spiffe.js';
import type { Target } from './authority.js';
import type { Credentials } from './credentials.js';

export type RejectStatus = 400 | 401 | 403 | 503 | 504;

/**
 * One accepted HBONE CONNECT stream, handed to the server's owner. The owner decides (policy, target
 * lookup, upstream connect) and then answers exactly once: `accept()` (200, after the upstream
 * connection is up) or `reject(status)`.
 */
export class HboneRequest {
  /** The authenticated peer (the source workload or the sending waypoint). */
  readonly peer: SpiffeId;
  readonly peerUri: string;
  /** The CONNECT `:authority`: the destination pod (or service VIP, toward a waypoint) and port. */
  readonly target: Target;
  readonly headers: IncomingHttpHeaders;
  readonly stream: HboneServerStream;
  /** The identity this server presented on the connection. */
  readonly local: Credentials;
  /** The TCP peer of the HBONE connection (the sending node), when known. */
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  /** What the caller passed to `handleConnection` for this connection (e.g. the pod whose listener took it). */
  readonly context: unknown;
  private answered = false;

  constructor(
    peer: SpiffeId,
    peerUri: string,
    target: Target,
    headers: IncomingHttpHeaders,
    stream: HboneServerStream,
    local: Credentials,
    remoteAddress: string | undefined,
    remotePort: number | undefined,
    context?: unknown,
  ) {
    this.peer = peer;
    this.peerUri = peerUri;
    this.target = target;
    this.headers = headers;
    this.stream = stream;
    this.local = local;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.context = context;
  }

  get isAnswered(): boolean {
    return this.answered;
  }

  /** Answers 200 and returns the stream to pump bytes through. Undefined if the peer already left. */
  accept(): HboneServerStream | undefined {
    if (this.answered) throw new Error('HboneRequest answered twice');
    this.answered = true;
    if (this.stream.destroyed || this.stream.closed) return undefined;
    this.stream.respond({ ':status': 200 }, { endStream: false });
    return this.stream;
  }

  /** Answers with an error status and ends the stream. */
  reject(status: RejectStatus): void {
    if (this.answered) return;
    this.answered = true;
    if (this.stream.destroyed || this.stream.closed) return;
    this.stream.respond({ ':status': status }, { endStream: true });
  }
}
