/** The Bookinfo sample app on loopback: the call tree, who answered, and the propagated headers. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies read in asserts
type Json = any;
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startBookinfo, type BookinfoOptions } from '../../../src/local/apps/bookinfo.js';

const servers: http.Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function start(o: Omit<BookinfoOptions, 'port' | 'host'>): Promise<string> {
  const { server, port } = await startBookinfo({ ...o, port: 0, host: '127.0.0.1' });
  servers.push(server);
  return `http://127.0.0.1:${port}`;
}

test('productpage → details + reviews v2 → ratings, forwarding end-user and x-request-id', async () => {
  // A recording ratings stand-in shows what reviews forwarded.
  let seen: http.IncomingHttpHeaders = {};
  const rec = http.createServer((req, res) => {
    seen = req.headers;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"servedBy":"ratings-rec","ratings":{}}');
  });
  await new Promise<void>((r) => rec.listen(0, '127.0.0.1', r));
  servers.push(rec);
  const ratings = `http://127.0.0.1:${(rec.address() as { port: number }).port}`;
  const details = await start({ role: 'details', version: 'v1', name: 'details-v1-1' });
  const reviews = await start({
    role: 'reviews',
    version: 'v2',
    name: 'reviews-v2-1',
    upstreams: { ratings },
  });
  const page = await start({
    role: 'productpage',
    version: 'v1',
    name: 'productpage-v1-1',
    upstreams: { details, reviews },
  });
  const body = await new Promise<{ served: string; json: Record<string, Json> }>((resolve, reject) =>
    http
      .get(
        `${page}/productpage`,
        { headers: { 'end-user': 'jason', 'x-request-id': 'rid-1', traceparent: '00-abc-def-01' } },
        (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c.toString()));
          res.on('end', () =>
            resolve({
              served: String(res.headers['x-served-by']),
              json: JSON.parse(b) as Record<string, Json>,
            }),
          );
        },
      )
      .on('error', reject),
  );
  assert.equal(body.served, 'productpage-v1-1');
  assert.equal(body.json.user, 'jason');
  assert.equal(body.json.details.servedBy, 'details-v1-1');
  assert.equal(body.json.reviews.servedBy, 'reviews-v2-1');
  assert.equal(body.json.reviews.stars, 'black');
  assert.equal(body.json.reviews.ratings.servedBy, 'ratings-rec');
  assert.equal(seen['end-user'], 'jason');
  assert.equal(seen['x-request-id'], 'rid-1');
  assert.equal(seen.traceparent, '00-abc-def-01');
});

test('reviews v1 does not call ratings; an unreachable service is reported, not fatal', async () => {
  const reviews = await start({
    role: 'reviews',
    version: 'v1',
    name: 'reviews-v1-1',
    upstreams: { ratings: 'http://127.0.0.1:1' },
  });
  const page = await start({
    role: 'productpage',
    version: 'v1',
    name: 'pp',
    upstreams: { details: 'http://127.0.0.1:1', reviews },
  });
  const json = await new Promise<Record<string, Json>>((resolve, reject) =>
    http
      .get(page, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve(JSON.parse(b) as Record<string, Json>));
      })
      .on('error', reject),
  );
  assert.equal(json.reviews.servedBy, 'reviews-v1-1');
  assert.equal(json.reviews.ratings, undefined);
  assert.match(String(json.details.error), /ECONNREFUSED/);
});

test('--fail-every 2: every other request is a 503; each request is logged with its ids', async () => {
  const lines: string[] = [];
  const details = await start({
    role: 'details',
    version: 'v1',
    name: 'details-v1-1',
    failEvery: 2,
    log: (l) => lines.push(l),
  });
  const codes: number[] = [];
  for (let i = 0; i < 4; i++) {
    codes.push(
      await new Promise<number>((resolve, reject) =>
        http
          .get(`${details}/details/${i}`, { headers: { 'x-request-id': `r${i}` } }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          })
          .on('error', reject),
      ),
    );
  }
  assert.deepEqual(codes, [200, 503, 200, 503]);
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as { path: string; request_id: string }).request_id),
    ['r0', 'r1', 'r2', 'r3'],
  );
});
