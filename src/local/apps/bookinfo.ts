/**
 * The Bookinfo sample as one small app with four roles, in the shape of Istio's: productpage calls
 * details and reviews; reviews v2 and v3 call ratings (v1 does not). Every reply carries
 * `x-served-by: <pod name>` and names who answered, so routing is visible in one request; the
 * headers Istio asks applications to propagate (`end-user`, `x-request-id`, W3C and B3 trace context)
 * are forwarded on every call.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Role = 'productpage' | 'details' | 'reviews' | 'ratings';

export interface BookinfoOptions {
  role: Role;
  version: string;
  name: string;
  port: number;
  host?: string;
  /** Base URLs of the services called (default http://<service>:9080). */
  upstreams?: Partial<Record<'details' | 'reviews' | 'ratings', string>>;
  /** Answer 503 to every Nth request (2: every other one), to try retries on; 0: never. */
  failEvery?: number;
  /** Where each request is logged (one JSON line: method, path, x-request-id, trace); default none. */
  log?: (line: string) => void;
  /** A broken instance (resilience demos): every answer has this status. */
  failStatus?: number;
}

/** `?delay=MS` (at most 10 s) holds the answer that long: a slow backend for connection-pool demos. */
function delayOf(url: string | undefined): number {
  const m = /[?&]delay=(\d{1,5})(?:&|$)/.exec(url ?? '');
  return m ? Math.min(Number(m[1]), 10_000) : 0;
}

/** Headers an application forwards so the mesh can route and trace the whole call tree. */
export const PROPAGATED = [
  'end-user',
  'x-request-id',
  'traceparent',
  'tracestate',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
];

function forwarded(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of PROPAGATED) {
    const v = req.headers[h];
    if (typeof v === 'string') out[h] = v;
  }
  return out;
}

/** GET a JSON document; on failure the error is the value (a page still renders without reviews). */
function call(url: string, headers: Record<string, string>): Promise<unknown> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          const v = JSON.parse(body) as Record<string, unknown>;
          resolve(res.statusCode === 200 ? v : { error: `${res.statusCode}`, ...v });
        } catch {
          resolve({ error: `${res.statusCode} ${body.slice(0, 100)}` });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ error: err.message }));
  });
}

export async function answer(o: BookinfoOptions, req: IncomingMessage): Promise<unknown> {
  const up = (s: 'details' | 'reviews' | 'ratings'): string => o.upstreams?.[s] ?? `http://${s}:9080`;
  const h = forwarded(req);
  const base = { servedBy: o.name, version: o.version };
  switch (o.role) {
    case 'details':
      return { ...base, id: 0, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200 };
    case 'ratings':
      return { ...base, ratings: { Reviewer1: 5, Reviewer2: 4 } };
    case 'reviews': {
      const reviews = [
        { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare.' },
        { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining.' },
      ];
      if (o.version === 'v1') return { ...base, reviews };
      const ratings = await call(`${up('ratings')}/ratings/0`, h);
      return { ...base, stars: o.version === 'v2' ? 'black' : 'red', ratings, reviews };
    }
    case 'productpage': {
      const [details, reviews] = await Promise.all([
        call(`${up('details')}/details/0`, h),
        call(`${up('reviews')}/reviews/0`, h),
      ]);
      return { ...base, user: h['end-user'] ?? null, details, reviews };
    }
  }
}

export async function startBookinfo(o: BookinfoOptions): Promise<{ server: http.Server; port: number }> {
  let n = 0;
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    n++;
    o.log?.(
      `${JSON.stringify({
        msg: 'request',
        method: req.method,
        path: req.url,
        request_id: req.headers['x-request-id'],
        traceparent: req.headers.traceparent,
        b3_trace_id: req.headers['x-b3-traceid'],
      })}\n`,
    );
    if (o.failEvery && n % o.failEvery === 0) {
      const text = `${JSON.stringify({ servedBy: o.name, error: 'failing on purpose (--fail-every)' })}\n`;
      res.writeHead(503, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'x-served-by': o.name,
      });
      res.end(text);
      return;
    }
    const delay = delayOf(req.url);
    const work = o.failStatus
      ? Promise.resolve({
          servedBy: o.name,
          version: o.version,
          error: `${o.failStatus} (failing on purpose)`,
        })
      : answer(o, req);
    void work.then(async (v) => {
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const text = `${JSON.stringify(v, null, 2)}\n`;
      res.writeHead(o.failStatus ?? 200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
        'x-served-by': o.name,
      });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
