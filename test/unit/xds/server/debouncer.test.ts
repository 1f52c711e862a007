import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Debouncer } from '../../../../src/istiod/xds/debouncer.js';

test('a burst of touches fires once', async () => {
  let fired = 0;
  const d = new Debouncer(20, 1000, () => fired++);
  for (let i = 0; i < 10; i++) d.touch();
  assert.equal(d.pending, true);
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (!d.pending) resolve();
      else setTimeout(check, 5);
    };
    check();
  });
  assert.equal(fired, 1);
});

test('continuous touches still fire once the longest delay is reached', async () => {
  let fired = 0;
  const d = new Debouncer(30, 60, () => fired++);
  d.touch();
  // Keep touching more often than the quiet period until it fires.
  while (fired === 0) {
    d.touch();
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.equal(fired, 1);
  d.cancel();
});
