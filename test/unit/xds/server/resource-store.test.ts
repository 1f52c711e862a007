import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceStore } from '../../../../src/istiod/xds/resource-store.js';
import { ADDRESS_TYPE_URL } from '../../../../src/xds/type-urls.js';

const w = (sa: string): object => ({ workload: { uid: 'u', serviceAccount: sa } });

test('the store encodes a change once, versions by content, and ignores unchanged upserts', () => {
  const store = new ResourceStore(ADDRESS_TYPE_URL);
  assert.deepEqual(store.apply({ upserts: [{ name: 'u', message: w('a') }], removals: [] }), ['u']);
  const first = store.get('u');
  assert.ok(first);
  assert.deepEqual(store.apply({ upserts: [{ name: 'u', message: w('a') }], removals: [] }), []);
  assert.equal(store.get('u'), first, 'same entry object: nothing re-encoded');
  assert.deepEqual(store.apply({ upserts: [{ name: 'u', message: w('b') }], removals: [] }), ['u']);
  assert.notEqual(store.get('u')?.version, first.version);
  // The same content in another store gets the same version (survives a restart).
  const other = new ResourceStore(ADDRESS_TYPE_URL);
  other.apply({ upserts: [{ name: 'u', message: w('b') }], removals: [] });
  assert.equal(other.get('u')?.version, store.get('u')?.version);
  assert.deepEqual(store.apply({ upserts: [], removals: ['u', 'never-there'] }), ['u']);
  assert.equal(store.size, 0);
});

test('pre-encoded bytes are accepted as they are', () => {
  const store = new ResourceStore(ADDRESS_TYPE_URL);
  store.apply({ upserts: [{ name: 'x', message: Uint8Array.of(0x0a, 0x00) }], removals: [] });
  assert.ok(store.get('x')?.encoded.length);
});
