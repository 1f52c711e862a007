import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Drain } from '../../../src/common/drain.js';

test('drain stops accepting at once and resolves when in-flight work finishes', async () => {
  const d = new Drain();
  const events: string[] = [];
  d.onDrain(() => events.push('stop-accepting'));
  d.onForce(() => events.push('force'));
  const done1 = d.begin();
  const done2 = d.begin();
  const p = d.start(5_000);
  assert.equal(d.isDraining, true);
  assert.deepEqual(events, ['stop-accepting']);
  done1();
  done1(); // a second call is harmless
  assert.equal(d.active, 1);
  setTimeout(done2, 10);
  const r = await p;
  assert.equal(r.forced, false);
  assert.deepEqual(events, ['stop-accepting']);
});

test('drain forces what is left at the deadline', async () => {
  const d = new Drain();
  let forced = false;
  d.onForce(() => (forced = true));
  d.begin();
  const r = await d.start(20);
  assert.equal(r.forced, true);
  assert.equal(r.remaining, 1);
  assert.equal(forced, true);
});

test('a callback registered after draining started runs immediately', async () => {
  const d = new Drain();
  await d.start(0);
  let ran = false;
  d.onDrain(() => (ran = true));
  assert.equal(ran, true);
});
