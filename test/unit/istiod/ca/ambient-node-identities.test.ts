import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbientIndex } from '../../../../src/istiod/model/ambient-index.js';
import { AmbientNodeIdentities } from '../../../../src/istiod/ca/node-identity-lookup.js';
import { ns, pod } from '../model/fixtures.js';
import { sid } from './fixtures.js';

test('node identities follow the ambient index: pods added, moved and removed', () => {
  const index = new AmbientIndex();
  index.upsert(ns('app', { 'istio.io/dataplane-mode': 'ambient' }));
  index.upsert(pod('web-1', { sa: 'web', node: 'node1', ip: '10.0.0.1' }));
  const lookup = new AmbientNodeIdentities(index); // starts from the snapshot
  assert.ok(lookup.hasIdentityOnNode(sid('app', 'web'), 'node1'));
  assert.ok(!lookup.hasIdentityOnNode(sid('app', 'web'), 'node2'));

  index.upsert(pod('db-1', { node: 'node2', ip: '10.0.0.2' })); // no service account: default
  assert.deepEqual(lookup.identitiesOnNode('node2'), ['spiffe://cluster.local/ns/app/sa/default']);

  index.remove('Pod', 'app', 'web-1');
  assert.ok(!lookup.hasIdentityOnNode(sid('app', 'web'), 'node1'));
  lookup.close();
  index.upsert(pod('web-2', { sa: 'web', node: 'node1', ip: '10.0.0.3' }));
  assert.ok(!lookup.hasIdentityOnNode(sid('app', 'web'), 'node1'), 'closed: no longer follows the index');
});
