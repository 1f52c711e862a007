import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fullGc } from '../../../src/common/full-gc.js';

test('a full collection runs on demand and frees what nothing references', async () => {
  let target: object | undefined = { big: new Array(1000).fill(0) };
  const ref = new WeakRef(target);
  target = undefined;
  // Let the current job finish: WeakRef targets stay alive until the end of the job that made them.
  await new Promise((r) => setImmediate(r));
  assert.equal(fullGc(), true);
  assert.equal(ref.deref(), undefined);
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'the program global gets no gc');
});
