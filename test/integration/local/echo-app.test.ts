/** The echo sample app on loopback: what it reports and the sizes `/bytes/{n}` streams. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { startEcho } from '../../../src/local/apps/echo.js';

let server: http.Server | undefined;
after(() => server?.close());

async function base(): Promise<string> {
  if (!server) server = (await startEcho({ port: 0, host: '127.0.0.1', name: 'echo-1' })).server;
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

test('/bytes/{n} sends exactly n bytes for sizes around the 1 MiB slab', async () => {
  const url = await base();
  for (const n of [0, 1, 1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 17]) {
    const r = await fetch(`${url}/bytes/${n}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-length'), String(n));
    const body = Buffer.from(await r.arrayBuffer());
    assert.equal(body.length, n, `size ${n}`);
    assert.ok(
      body.every((b) => b === 0x61),
      `size ${n}: every byte is 'a'`,
    );
  }
});

test('/bytes/{n} refuses sizes outside 0..100 MiB with 400 and says why', async () => {
  const url = await base();
  const r = await fetch(`${url}/bytes/${200 * 1024 * 1024}`);
  assert.equal(r.status, 400);
  assert.match(await r.text(), /bytes must be 0\.\.104857600/);
});

test('echo reports the method, path and its name in x-served-by', async () => {
  const url = await base();
  const r = await fetch(`${url}/hello?x=1`, { method: 'POST', body: 'data' });
  assert.equal(r.headers.get('x-served-by'), 'echo-1');
  const j = (await r.json()) as { method: string; path: string; query: Record<string, string> };
  assert.deepEqual([j.method, j.path, j.query], ['POST', '/hello', { x: '1' }]);
});
