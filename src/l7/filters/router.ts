/**
 * The router, last in the chain: answers local decisions, sends mirrors, then tries the upstream up to
 * 1 + retries times (a different endpoint each try when there is one) within the route timeout and the
 * per-try timeout, and streams the response back. Bodies are streamed; only a small body of declared
 * length is held when it may be sent again (retries, mirrors) — see docs/waypoint.md.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../common/logger.js';
import type { Balancer } from '../cluster/balancer.js';
import type { CircuitBreakers, Slot } from '../cluster/circuit-breaker.js';
import type { AttemptResult, OutlierDetector } from '../cluster/outlier.js';
import { key } from '../cluster/balancer.js';
import { UpstreamError, type UpstreamClient, type UpstreamResponse } from '../cluster/upstream.js';
import type { Exchange } from '../http/exchange.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../http/headers.js';
import type { Cluster, Endpoint } from '../model.js';
import type { Decision } from '../route/decide.js';
import { queryParam } from '../route/match.js';
import { backoffMs, shouldRetry, type AttemptOutcome } from '../route/retry.js';
import type { HttpFilter } from './filter.js';

type Forward = Extract<Decision, { kind: 'forward' }>;

export interface RouterDeps {
  client: UpstreamClient;
  balancer: Balancer;
  random: () => number;
  log: Logger;
  /** connectionPool limits (503 UO at a limit); none: unlimited. */
  breakers?: CircuitBreakers;
  /** outlierDetection: ejected endpoints are not picked. */
  outlier?: OutlierDetector;
}

export class RouterFilter implements HttpFilter {
  readonly name = 'envoy.filters.http.router';

  constructor(private readonly d: RouterDeps) {}

  onRequest(ex: Exchange): boolean | Promise<boolean> {
    const dec = ex.decision!;
    if (dec.kind === 'respond') {
      ex.respond(
        dec.status,
        dec.body,
        dec.flag,
        dec.details,
        dec.location ? { location: dec.location } : undefined,
      );
      return false;
    }
    return this.forward(ex, dec).then(() => false);
  }

  private async forward(ex: Exchange, dec: Forward): Promise<void> {
    const cluster = dec.cluster;
    ex.upstreamCluster = cluster.name;
    const { headers, authority } = upstreamRequestHeaders(ex.req.headers, dec.authority, dec.requestHeaders);
    if (dec.timeoutMs > 0) headers['x-envoy-expected-rq-timeout-ms'] = String(dec.timeoutMs);
    const bodyless = ex.bodyless;
    // A small body of known length is read first when it may be sent more than once (retries, mirrors),
    // as Envoy buffers it; anything else streams and is tried once.
    const small = !bodyless && (dec.retry.attempts > 0 || dec.mirrors) ? ex.replayableLength : undefined;
    let bytes: Buffer | undefined;
    if (small !== undefined) {
      bytes = await readAll(ex.req, small);
      if (!bytes) return; // the client went away while sending
      ex.bytesReceived = bytes.length;
    }
    const replayable = bodyless || bytes !== undefined;
    if (dec.mirrors && replayable) this.mirror(ex, dec, headers, authority, bytes);
    const proto =
      cluster.upstream === 'downstream' ? (ex.protocol === 'HTTP/2' ? 'http2' : 'http1') : cluster.upstream;
    const attempts = replayable ? 1 + dec.retry.attempts : 1;
    const tried = new Set<string>();
    let timedOut = false;
    let current: UpstreamResponse | undefined;
    let downstreamGone = false;
    const onGone = (): void => {
      downstreamGone = true;
      current?.abort();
    };
    ex.res.once('close', onGone);
    const timer =
      dec.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            current?.abort();
            ex.reply('upstream_timeout');
          }, dec.timeoutMs)
        : undefined;
    const body = replayable ? undefined : ex.req;
    if (body) {
      body.on('data', (c: Buffer) => (ex.bytesReceived += c.length));
      // Counting must not start the flow: the pipe to the upstream (maybe after an async connect) does.
      body.pause();
    }
    try {
      for (let i = 0; i < attempts; i++) {
        if (i > 0) await sleep(backoffMs(dec.retry, i, this.d.random));
        if (timedOut || downstreamGone) return;
        const view = this.d.outlier ? this.d.outlier.view(cluster) : cluster;
        const ep = this.d.balancer.pick(view, hashKey(ex, cluster), this.d.random, tried);
        if (!ep) return ex.reply('no_healthy_upstream');
        const slot = await this.slot(ex, cluster, proto, i > 0);
        if (!slot) {
          // A retry over maxRetries is skipped: the last answer stands (Envoy); a first try overflows.
          if (i === 0) ex.reply('overflow', { 'x-envoy-overloaded': 'true' });
          return;
        }
        if (timedOut || downstreamGone) {
          slot.release();
          return;
        }
        tried.add(key(ep));
        ex.upstream = ep;
        this.d.balancer.begin(ep);
        const done = (r: AttemptResult): void => {
          this.d.balancer.end(ep);
          slot.release();
          this.d.outlier?.report(cluster, ep, r);
        };
        const started = performance.now();
        const outcome: AttemptOutcome = {};
        let res: UpstreamResponse | undefined;
        try {
          res = await this.attempt(ep, proto, ex.method, dec, headers, authority, body, bytes);
          outcome.status = res.status;
          const g = res.headers['grpc-status'];
          if (typeof g === 'string') outcome.grpcStatus = g;
        } catch (err) {
          outcome.failure =
            err instanceof UpstreamError ? err.failure : err === PER_TRY ? 'timeout' : 'reset';
        }
        if (timedOut || downstreamGone) {
          res?.abort();
          done(res ? { status: res.status } : { failure: outcome.failure ?? 'reset' });
          return;
        }
        const last = i === attempts - 1;
        if (shouldRetry(dec.retry, outcome) && !last) {
          res?.abort();
          done(res ? { status: res.status } : { failure: outcome.failure ?? 'reset' });
          continue;
        }
        const exhausted = attempts > 1 && last && shouldRetry(dec.retry, outcome);
        if (!res) {
          done({ failure: outcome.failure ?? 'reset' });
          const kind =
            outcome.failure === 'connect'
              ? 'connect_failure'
              : outcome.failure === 'timeout'
                ? 'upstream_timeout'
                : outcome.failure === 'protocol'
                  ? 'protocol_error'
                  : 'upstream_reset';
          ex.reply(kind);
          if (exhausted) ex.flags = `${ex.flags},URX`;
          return;
        }
        current = res;
        await this.stream(ex, dec, res, performance.now() - started);
        if (exhausted) ex.flags = 'URX';
        done({ status: res.status });
        return;
      }
    } finally {
      if (timer) clearTimeout(timer);
      ex.res.removeListener('close', onGone);
    }
  }

  /** A place in the cluster's connection pool: the first try may wait in the pending queue; retries never do. */
  private async slot(
    ex: Exchange,
    cluster: Cluster,
    proto: 'http1' | 'http2',
    retry: boolean,
  ): Promise<Slot | undefined> {
    const b = this.d.breakers;
    if (!b || !cluster.connectionPool) return NO_SLOT;
    let retrySlot: Slot | undefined;
    if (retry) {
      retrySlot = b.retry(cluster);
      if (!retrySlot) return undefined;
    }
    const got = b.admit(cluster, proto === 'http1');
    const slot = got instanceof Promise ? await got : got;
    if (!slot) {
      retrySlot?.release();
      return undefined;
    }
    if (ex.done && !retry) {
      slot.release();
      return undefined;
    }
    return retrySlot ? { release: () => (slot.release(), retrySlot.release()) } : slot;
  }

  private attempt(
    ep: Endpoint,
    proto: 'http1' | 'http2',
    method: string,
    dec: Forward,
    headers: Record<string, unknown>,
    authority: string,
    body: Exchange['req'] | undefined,
    bytes: Buffer | undefined,
  ): Promise<UpstreamResponse> {
    const p = this.d.client.request(ep, proto, {
      method,
      path: dec.path,
      authority,
      headers: headers as never,
      body,
      bytes,
      maxRequestsPerConnection: dec.cluster.connectionPool?.maxRequestsPerConnection,
      idleTimeoutMs: dec.cluster.connectionPool?.idleTimeoutMs,
      connectTimeoutMs: dec.cluster.connectTimeoutMs,
    });
    const perTry = dec.retry.perTryTimeoutMs;
    if (!perTry) return p;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(PER_TRY);
        p.then((r) => r.abort(), ignore);
      }, perTry);
      p.then(
        (r) => {
          clearTimeout(t);
          resolve(r);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(e as Error);
        },
      );
    });
  }

  private stream(ex: Exchange, dec: Forward, res: UpstreamResponse, upstreamMs: number): Promise<void> {
    const headers = downstreamResponseHeaders(res.headers, dec.responseHeaders, upstreamMs);
    if (ex.extraResponseHeaders) Object.assign(headers, ex.extraResponseHeaders);
    if (ex.grpc) ex.grpcStatus = String(res.headers['grpc-status'] ?? '');
    // A gRPC trailers-only response: over HTTP/2 the status goes out as trailers after the headers
    // (Node's compatibility API cannot end the stream on the response headers themselves).
    let trailersOnly: Record<string, string> | undefined;
    if (ex.protocol === 'HTTP/2' && headers['grpc-status'] !== undefined) {
      trailersOnly = {};
      for (const k of ['grpc-status', 'grpc-message', 'grpc-status-details-bin']) {
        if (headers[k] !== undefined) trailersOnly[k] = String(headers[k]);
        delete headers[k];
      }
    }
    ex.status = res.status;
    if (ex.faultFlag) ex.flags = ex.faultFlag;
    ex.res.writeHead(res.status, headers);
    return new Promise((resolve) => {
      const body = res.body;
      body.on('data', (c: Buffer) => (ex.bytesSent += c.length));
      body.pipe(ex.res as unknown as NodeJS.WritableStream, { end: false });
      body.once('end', () => {
        const t = res.trailers() ?? trailersOnly;
        if (t && ex.protocol === 'HTTP/2') {
          ex.res.addTrailers(stripPseudo(t));
          if (t['grpc-status'] !== undefined) ex.grpcStatus = String(t['grpc-status']);
        }
        ex.res.end();
        resolve();
      });
      body.once('error', () => {
        ex.flags = 'UR';
        ex.res.destroy();
        resolve();
      });
      body.once('close', () => {
        if (!body.readableEnded) {
          ex.res.destroy();
          resolve();
        }
      });
    });
  }

  /** Sends a copy to each mirror cluster (by its percentage); the response is read and dropped. */
  private mirror(
    ex: Exchange,
    dec: Forward,
    headers: Record<string, unknown>,
    authority: string,
    bytes: Buffer | undefined,
  ): void {
    for (const m of dec.mirrors ?? []) {
      if (!(this.d.random() * 100 < m.percent)) continue;
      const cluster = ex.clusters.get(m.cluster);
      if (!cluster) continue;
      const ep = this.d.balancer.pick(cluster, undefined, this.d.random);
      if (!ep) continue;
      const proto = cluster.upstream === 'http2' ? 'http2' : 'http1';
      this.d.client
        .request(ep, proto, {
          method: ex.method,
          path: dec.path,
          authority,
          headers: { ...headers } as never,
          body: undefined,
          bytes,
        })
        .then(
          (r) => r.body.resume(),
          (err: unknown) => this.d.log.debug({ cluster: m.cluster, err: String(err) }, 'mirror failed'),
        );
    }
  }
}

const PER_TRY = new Error('per-try timeout');
const NO_SLOT: Slot = { release() {} };

/** The whole body (at most `limit` bytes, its declared length); undefined when the client left first. */
function readAll(s: Exchange['req'], limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let n = 0;
    s.on('data', (c: Buffer) => {
      n += c.length;
      if (n <= limit) parts.push(c);
    });
    s.once('end', () => resolve(Buffer.concat(parts)));
    s.once('close', () => {
      if (!s.readableEnded) resolve(undefined);
    });
  });
}

function ignore(): void {}

function stripPseudo(t: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in t) if (k.charCodeAt(0) !== 58) out[k] = String(t[k]);
  return out;
}

function hashKey(ex: Exchange, c: Cluster): string | undefined {
  const lb = c.lb;
  if (lb.kind !== 'HASH') return undefined;
  if (lb.header) return ex.header(lb.header.toLowerCase());
  if (lb.query) return queryParam(ex.query, lb.query);
  if (lb.sourceIp) return ex.conn.sourceIp;
  if (lb.cookie) {
    const m = new RegExp(`(?:^|;\\s*)${lb.cookie}=([^;]*)`).exec(ex.header('cookie') ?? '');
    return m?.[1];
  }
  return undefined;
}
