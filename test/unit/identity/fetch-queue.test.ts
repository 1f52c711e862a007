import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FetchQueue } from '../../../src/identity/fetch-queue.js';

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

test('at most `limit` run at once; waiting connections go before background work', async () => {
  const q = new FetchQueue(2);
  const order: string[] = [];
  const g = gate();
  const job = (name: string) => async () => {
    order.push(name);
    await g.promise;
    return name;
  };
  const all = [
    q.submit(job('bg1'), false),
    q.submit(job('bg2'), false),
    q.submit(job('bg3'), false),
    q.submit(job('bg4'), false),
    q.submit(job('urgent'), true),
  ];
  assert.equal(q.active, 2);
  assert.equal(q.pending, 3);
  all[3]?.promote(); // a connection now waits for bg4
  g.open();
  assert.deepEqual(await Promise.all(all.map((t) => t.promise)), ['bg1', 'bg2', 'bg3', 'bg4', 'urgent']);
  assert.deepEqual(order, ['bg1', 'bg2', 'urgent', 'bg4', 'bg3']);
});

test('a failing task rejects its own promise and frees its turn', async () => {
  const q = new FetchQueue(1);
  const a = q.submit(() => Promise.reject(new Error('boom')), true);
  const b = q.submit(() => Promise.resolve(7), true);
  await assert.rejects(a.promise, /boom/);
  assert.equal(await b.promise, 7);
  assert.equal(q.active, 0);
});
