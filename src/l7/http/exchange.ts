/**
 * One request through the engine: the downstream request and response (HTTP/1.1 or the HTTP/2
 * compatibility API, which share this shape), its view for matching, the decision, and what the
 * access log and the metrics report at the end.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import type { CompiledPort } from '../compile.js';
import type { Decision } from '../route/decide.js';
import type { RequestView } from '../route/match.js';
import type { Cluster, Endpoint } from '../model.js';
import type { RequestAuth } from '../security/authz-decide.js';
import { LOCAL_REPLIES, type LocalReply } from '../errors.js';
import { applyOps } from './headers.js';

/** The downstream request: http.IncomingMessage or http2.Http2ServerRequest. */
export interface DownRequest extends Readable {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  httpVersion: string;
}

/** The downstream response: http.ServerResponse or http2.Http2ServerResponse. */
export interface DownResponse {
  headersSent: boolean;
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  write(chunk: unknown): boolean;
  end(chunk?: unknown): unknown;
  addTrailers(trailers: OutgoingHttpHeaders): void;
  destroy(err?: Error): unknown;
  once(event: string, fn: (...a: unknown[]) => void): unknown;
  on(event: string, fn: (...a: unknown[]) => void): unknown;
  removeListener(event: string, fn: (...a: unknown[]) => void): unknown;
}

/** Who is calling, as the listener knows it (for the waypoint: from the HBONE tunnel). */
export interface ConnInfo {
  /** The tunnel target / original destination. */
  targetIp: string;
  targetPort: number;
  sourceIp: string;
  sourcePort: number;
  /** SPIFFE URI of the peer, '' when unknown. */
  sourcePrincipal: string;
  sourceNamespace?: string;
  sourceWorkload?: string;
  sourceApp?: string;
  sourceVersion?: string;
  mtls: boolean;
  /**
   * At the edge (an ingress gateway): the scheme the client spoke, `https` on a listener that
   * terminates TLS. Set, it is written to `x-forwarded-proto` (whatever the client sent) and is the
   * default scheme of redirects.
   */
  scheme?: 'http' | 'https';
  /**
   * At the edge, the client's verified certificate as `x-forwarded-client-cert` (Envoy's format);
   * with `scheme` set, whatever the client sent in that header is dropped.
   */
  clientCert?: string;
}

/** Largest request body held for retries and mirrors. */
export const REPLAY_LIMIT = 64 * 1024;

export class Exchange implements RequestView {
  readonly req: DownRequest;
  readonly res: DownResponse;
  readonly conn: ConnInfo;
  readonly port: CompiledPort;
  /** The clusters of the config this request was decided with (mirrors look theirs up here). */
  readonly clusters: ReadonlyMap<string, Cluster>;
  readonly started = performance.now();
  /** Wall-clock start (ms since the epoch); `startTime` makes the Date only when asked (access log). */
  readonly startedAt = Date.now();
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly authority: string;
  readonly scheme: string | undefined;
  readonly requestId: string;
  readonly grpc: boolean;
  readonly protocol: string;
  decision: Decision | undefined;
  status = 0;
  flags = '-';
  details = '-';
  grpcStatus = '';
  bytesReceived = 0;
  bytesSent = 0;
  upstream: Endpoint | undefined;
  upstreamCluster = '-';
  done = false;
  /** Response headers a filter adds (CORS). */
  extraResponseHeaders: OutgoingHttpHeaders | undefined;
  /** DI when a fault delay was injected (reported with the final flags). */
  faultFlag: string | undefined;
  /** The verified end user (JWT), set by the jwt_authn filter. */
  auth: RequestAuth | undefined;

  constructor(
    req: DownRequest,
    res: DownResponse,
    conn: ConnInfo,
    port: CompiledPort,
    clusters: ReadonlyMap<string, Cluster>,
  ) {
    this.clusters = clusters;
    this.req = req;
    this.res = res;
    this.conn = conn;
    this.port = port;
    this.method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.query = q < 0 ? '' : url.slice(q + 1);
    const h = req.headers;
    this.authority = String(h[':authority'] ?? h.host ?? '');
    this.scheme = conn.scheme;
    if (conn.scheme) {
      h['x-forwarded-proto'] = conn.scheme;
      if (conn.clientCert) h['x-forwarded-client-cert'] = conn.clientCert;
      else delete h['x-forwarded-client-cert'];
    }
    let rid = h['x-request-id'];
    if (typeof rid !== 'string' || rid === '') {
      rid = randomUUID();
      h['x-request-id'] = rid;
    }
    this.requestId = rid;
    this.grpc = String(h['content-type'] ?? '').startsWith('application/grpc');
    this.protocol = req.httpVersion === '2.0' ? 'HTTP/2' : `HTTP/${req.httpVersion}`;
  }

  get startTime(): Date {
    return new Date(this.startedAt);
  }

  header(name: string): string | undefined {
    const v = this.req.headers[name];
    return v === undefined ? undefined : Array.isArray(v) ? v.join(',') : v;
  }

  /** True when the request carries no body (so it can be retried or mirrored without buffering). */
  get bodyless(): boolean {
    const h = this.req.headers;
    if (this.protocol === 'HTTP/2') return this.req.readableEnded || h['content-length'] === '0';
    return (
      h['transfer-encoding'] === undefined &&
      (h['content-length'] === undefined || h['content-length'] === '0')
    );
  }

  /**
   * The declared body length when it is small enough to hold for a resend (retries, mirrors):
   * Content-Length present, no Transfer-Encoding, at most 64 KiB. Undefined otherwise.
   */
  get replayableLength(): number | undefined {
    const h = this.req.headers;
    if (h['transfer-encoding'] !== undefined) return undefined;
    const n = Number(h['content-length']);
    return Number.isInteger(n) && n >= 0 && n <= REPLAY_LIMIT ? n : undefined;
  }

  /** Answers locally (once), with Envoy's body, flag and details for `kind`. */
  reply(kind: LocalReply, extra?: OutgoingHttpHeaders): void {
    const r = LOCAL_REPLIES[kind];
    this.respond(r.status, r.body, r.flag, r.details, extra);
  }

  respond(status: number, body: string, flag: string, details: string, extra?: OutgoingHttpHeaders): void {
    if (this.res.headersSent) {
      this.flags = flag;
      this.details = details;
      this.res.destroy();
      return;
    }
    this.status = status;
    this.flags = this.faultFlag && flag === '-' ? this.faultFlag : flag;
    this.details = details;
    const headers: OutgoingHttpHeaders = { server: 'istio-envoy', ...this.extraResponseHeaders, ...extra };
    if (body !== '') {
      headers['content-type'] ??= 'text/plain';
      headers['content-length'] = Buffer.byteLength(body);
    } else headers['content-length'] = 0;
    const d = this.decision;
    if (d) for (const op of d.responseHeaders) applyOps(headers, op);
    if (this.protocol === 'HTTP/2' && headers['grpc-status'] !== undefined) {
      // gRPC status as trailers (see the router: the compatibility API cannot send trailers-only).
      const t: OutgoingHttpHeaders = {};
      for (const k of ['grpc-status', 'grpc-message']) {
        if (headers[k] !== undefined) t[k] = headers[k];
        delete headers[k];
      }
      this.res.addTrailers(t);
    }
    this.res.writeHead(status, headers);
    this.bytesSent += Buffer.byteLength(body);
    this.res.end(body);
  }
}
