import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrustBundle } from '../../../src/identity/trust-bundle.js';
import { createRootCa } from '../../../src/pki/ca.js';

test('roots are added once, replaced as a set, and expired roots dropped; changes are announced', () => {
  const a = createRootCa().rootPem;
  const b = createRootCa().rootPem;
  const bundle = new TrustBundle([a]);
  const seen: number[] = [];
  bundle.onChange((r) => seen.push(r.length));
  assert.equal(bundle.add(a), false);
  assert.equal(bundle.add(b), true);
  assert.deepEqual([...bundle.roots()], [a, b]);
  bundle.set([b, a]); // same set: no change
  bundle.set([b]);
  assert.deepEqual([...bundle.roots()], [b]);
  bundle.set([a, b], new Date(Date.now() + 20 * 365 * 24 * 3600e3)); // both expired by then
  assert.deepEqual([...bundle.roots()], []);
  assert.deepEqual(seen, [2, 1, 0]);
});
