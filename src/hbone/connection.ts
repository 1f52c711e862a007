import http2, { type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import tls, { type TLSSocket, type PeerCertificate } from 'node:tls';
import type { Duplex } from 'node:stream';
import { spiffeIdOf, spiffeUri } from '../pki/spiffe.js';
import { errorMessage } from '../common/errors.js';
import type { Credentials } from './credentials.js';
import { HboneError } from './errors.js';
import { HBONE_DEFAULTS, hboneImpl, type HboneImpl } from './settings.js';
import { H2Session } from './h2/session.js';
import type { H2Stream } from './h2/stream.js';

/** A client CONNECT stream of either implementation. */
export type HboneStream = ClientHttp2Stream | H2Stream;
type AnySession = ClientHttp2Session | H2Session;

export interface ConnectionOptions {
  /** Identity we present. */
  credentials: Credentials;
  /** Where the HBONE server listens (ignored for the address when `socket` is given). */
  host: string;
  port: number;
  /** SPIFFE URIs the server may have; anything else fails with HBONE_ERR_IDENTITY. Empty: any in the trust domains. */
  expectedIdentities: readonly string[];
  /** Trust domains accepted for the server; default: ours. */
  trustDomains?: readonly string[];
  /** Run TLS over this stream instead of a new TCP connection (a nested tunnel, a socket made in a netns). */
  socket?: Duplex;
  /** Source address for the TCP connection (the source pod's IP in loopback mode). */
  localAddress?: string;
  connectTimeoutMs?: number;
  streamWindow?: number;
  connectionWindow?: number;
  maxFrameSize?: number;
  maxSessionMemoryMb?: number;
  maxHeaderListSize?: number;
  /** HTTP/2 implementation (default: HBONE_IMPL, else node). */
  impl?: HboneImpl;
}

/**
 * One client HBONE connection: TLS 1.3 (our certificate, the server's SPIFFE identity checked against
 * the expected set) carrying an HTTP/2 session whose streams are CONNECT tunnels.
 */
export class HboneConnection {
  readonly session: AnySession;
  readonly credentials: Credentials;
  /** The server's SPIFFE URI. */
  readonly peerUri: string;
  /** Streams open or being opened on this connection. */
  streams = 0;

  private constructor(session: AnySession, credentials: Credentials, peerUri: string) {
    this.session = session;
    this.credentials = credentials;
    this.peerUri = peerUri;
  }

  get usable(): boolean {
    return !this.session.closed && !this.session.destroyed;
  }

  static connect(o: ConnectionOptions): Promise<HboneConnection> {
    const timeoutMs = o.connectTimeoutMs ?? HBONE_DEFAULTS.connectTimeoutMs;
    const expected = new Set(o.expectedIdentities);
    const domains = new Set(o.trustDomains ?? [o.credentials.id?.trustDomain ?? 'cluster.local']);
    const where = o.socket ? 'a nested tunnel' : `${o.host}:${o.port}`;
    let identityError: HboneError | undefined;
    const checkServerIdentity = (_host: string, cert: PeerCertificate): Error | undefined => {
      const id = spiffeIdOf(cert);
      if (!id) {
        identityError = new HboneError(
          'HBONE_ERR_IDENTITY',
          `HBONE server at ${where} has no SPIFFE identity in its certificate (subjectAltName: ${cert.subjectaltname ?? 'none'})`,
        );
        return identityError;
      }
      const uri = spiffeUri(id);
      if (!domains.has(id.trustDomain) || (expected.size > 0 && !expected.has(uri))) {
        identityError = new HboneError(
          'HBONE_ERR_IDENTITY',
          `HBONE server at ${where} is ${uri}, not one of the expected identities (${[...expected].join(', ') || `any in ${[...domains].join(', ')}`}); check the destination workload's service account and the state this proxy has`,
        );
        return identityError;
      }
      return undefined;
    };

    return new Promise<HboneConnection>((resolve, reject) => {
      let settled = false;
      let session: AnySession | undefined;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        session?.destroy();
        sock.destroy();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            new HboneError('HBONE_ERR_TIMEOUT', `HBONE connect to ${where} timed out after ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      timer.unref();

      // Our own framer on a TCP connection reads through one reused buffer (see H2Session.onRead);
      // bytes that come before the session exists wait in `early`.
      const ownReads = hboneImpl(o.impl) === 'own' && !o.socket;
      let reader: H2Session | undefined;
      const early: Buffer[] = [];
      const onread = ownReads
        ? {
            buffer: Buffer.allocUnsafe(READ_BUFFER),
            callback: (n: number, buf: Buffer): void => {
              if (reader) reader.onRead(n, buf);
              else early.push(Buffer.from(buf.subarray(0, n)));
            },
          }
        : undefined;
      const sock: TLSSocket = tls.connect({
        ...(o.socket
          ? { socket: o.socket }
          : { host: o.host, port: o.port, localAddress: o.localAddress, onread }),
        secureContext: o.credentials.secureContext(),
        ALPNProtocols: ['h2'],
        minVersion: 'TLSv1.3',
        checkServerIdentity,
      });
      sock.setNoDelay?.(true);
      sock.once('error', (err: Error) => {
        fail(
          identityError ??
            new HboneError('HBONE_ERR_CONNECT', `HBONE connect to ${where} failed: ${errorMessage(err)}`, {
              cause: err,
            }),
        );
      });
      sock.once('secureConnect', () => {
        const tlsSock = sock;
        if (tlsSock.alpnProtocol !== 'h2') {
          fail(new HboneError('HBONE_ERR_CONNECT', `HBONE server at ${where} did not negotiate ALPN h2`));
          return;
        }
        const peerId = spiffeIdOf(tlsSock.getPeerCertificate());
        const peerUri = peerId ? spiffeUri(peerId) : '';
        if (hboneImpl(o.impl) === 'own') {
          const own = new H2Session(tlsSock, false, {
            streamWindow: o.streamWindow ?? HBONE_DEFAULTS.streamWindow,
            connectionWindow: o.connectionWindow ?? HBONE_DEFAULTS.connectionWindow,
            maxFrameSize: o.maxFrameSize ?? HBONE_DEFAULTS.maxFrameSize,
            maxHeaderListSize: o.maxHeaderListSize ?? HBONE_DEFAULTS.maxHeaderListSize,
            externalReads: onread !== undefined,
          });
          session = own;
          if (onread) {
            reader = own;
            for (const b of early.splice(0)) own.onRead(b.length, b);
          }
          own.once('close', () =>
            fail(
              new HboneError(
                'HBONE_ERR_CONNECT',
                `HBONE server at ${where} closed the connection during setup${own.lastError ? ` (${own.lastError})` : ' (it may not trust our certificate or trust domain; see its log)'}`,
              ),
            ),
          );
          own.once('remoteSettings', () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(new HboneConnection(own, o.credentials, peerUri));
          });
          return;
        }
        session = http2.connect(`https://${o.socket ? 'tunnel' : `${o.host}:${o.port}`}`, {
          createConnection: () => tlsSock,
          maxSessionMemory: o.maxSessionMemoryMb ?? HBONE_DEFAULTS.maxSessionMemoryMb,
          settings: {
            enablePush: false,
            initialWindowSize: o.streamWindow ?? HBONE_DEFAULTS.streamWindow,
            maxFrameSize: o.maxFrameSize ?? HBONE_DEFAULTS.maxFrameSize,
            maxHeaderListSize: o.maxHeaderListSize ?? HBONE_DEFAULTS.maxHeaderListSize,
          },
        });
        session.once('error', (err) =>
          fail(
            new HboneError('HBONE_ERR_CONNECT', `HBONE session to ${where} failed: ${errorMessage(err)}`, {
              cause: err,
            }),
          ),
        );
        session.once('close', () =>
          fail(
            new HboneError(
              'HBONE_ERR_CONNECT',
              `HBONE server at ${where} closed the connection during setup (it may not trust our certificate or trust domain; see its log)`,
            ),
          ),
        );
        session.once('connect', (s: ClientHttp2Session) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          try {
            s.setLocalWindowSize(o.connectionWindow ?? HBONE_DEFAULTS.connectionWindow);
          } catch {
            // The session may already be closing; the stream open will report it.
          }
          s.on('error', ignore);
          resolve(new HboneConnection(s, o.credentials, peerUri));
        });
      });
    });
  }

  /**
   * Opens a CONNECT stream to `authority` (ip:port). Resolves with the stream once the server answers
   * 200; any other answer rejects with HBONE_ERR_STATUS carrying the status.
   */
  open(authority: string, headers: Record<string, string>, timeoutMs: number): Promise<HboneStream> {
    this.streams++;
    let stream: HboneStream;
    try {
      stream =
        this.session instanceof H2Session
          ? this.session.request({ ':method': 'CONNECT', ':authority': authority, ...headers })
          : this.session.request(
              { ...headers, ':method': 'CONNECT', ':authority': authority } as OutgoingHttpHeaders,
              { endStream: false },
            );
    } catch (err) {
      this.streams--;
      return Promise.reject(
        new HboneError(
          'HBONE_ERR_CLOSED',
          `HBONE connection to ${this.peerUri} cannot open streams: ${errorMessage(err)}`,
          {
            cause: err,
          },
        ),
      );
    }
    stream.once('close', () => {
      this.streams--;
    });
    return new Promise<HboneStream>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(
          new HboneError(
            'HBONE_ERR_TIMEOUT',
            `HBONE CONNECT ${authority} via ${this.peerUri}: no answer in ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      timer.unref();
      const onError = (err: Error): void => {
        clearTimeout(timer);
        stream.off('close', onClose);
        reject(
          new HboneError(
            'HBONE_ERR_CONNECT',
            `HBONE CONNECT ${authority} via ${this.peerUri} failed: ${errorMessage(err)}`,
            {
              cause: err,
            },
          ),
        );
      };
      const onClose = (): void => {
        clearTimeout(timer);
        reject(
          new HboneError(
            'HBONE_ERR_CONNECT',
            `HBONE CONNECT ${authority} via ${this.peerUri}: the connection closed before an answer (the server may have refused our certificate; see its log)`,
          ),
        );
      };
      stream.once('error', onError);
      stream.once('close', onClose);
      stream.once('response', (h: Record<string, unknown>) => {
        clearTimeout(timer);
        stream.off('error', onError);
        stream.off('close', onClose);
        const status = Number(h[':status']);
        if (status === 200) {
          resolve(stream);
          return;
        }
        stream.on('error', ignore);
        stream.close();
        reject(
          new HboneError(
            'HBONE_ERR_STATUS',
            `HBONE CONNECT ${authority} via ${this.peerUri} answered ${status}${statusHint(status)}`,
            {
              status,
            },
          ),
        );
      });
    });
  }

  close(): void {
    if (!this.session.closed) this.session.close();
  }

  destroy(): void {
    this.session.destroy();
  }
}

/** The reused read buffer of a client connection on our own framer (one per connection). */
const READ_BUFFER = 64 * 1024;

function ignore(): void {}

function statusHint(status: number): string {
  switch (status) {
    case 400:
      return ' (bad request: the target is not ip:port, or not a destination this node serves)';
    case 401:
      return ' (denied by authorization policy)';
    case 503:
      return ' (the destination workload is unknown there, has no such port, or refused the connection)';
    default:
      return '';
  }
}
