import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { authorizeIdentity } from '../../../../src/istiod/ca/authorize.js';
import { NodeIdentities } from '../../../../src/istiod/ca/node-identity-lookup.js';
import type { Caller } from '../../../../src/istiod/ca/token-authenticator.js';
import { sid } from './fixtures.js';

const ZTUNNEL = 'spiffe://cluster.local/ns/istio-system/sa/ztunnel';
const nodes = new NodeIdentities();
nodes.set('pod-a', 'node1', sid('app', 'web'));
nodes.set('pod-b', 'node2', sid('app', 'db'));
const ctx = { trustedNodeAccounts: new Set([ZTUNNEL]), nodes };
const ztunnel1: Caller = { identity: sid('istio-system', 'ztunnel'), node: 'node1', via: 'local-token' };

test('a caller gets its own identity without impersonation', () => {
  const caller: Caller = { identity: sid('app', 'web'), via: 'token-review' };
  assert.deepEqual(authorizeIdentity(caller, undefined, ctx), {
    ok: true,
    id: sid('app', 'web'),
    impersonating: false,
  });
  assert.deepEqual(authorizeIdentity(caller, 'spiffe://cluster.local/ns/app/sa/web', ctx), {
    ok: true,
    id: sid('app', 'web'),
    impersonating: false,
  });
});

test('ztunnel may impersonate an identity with a pod on its own node', () => {
  assert.deepEqual(authorizeIdentity(ztunnel1, 'spiffe://cluster.local/ns/app/sa/web', ctx), {
    ok: true,
    id: sid('app', 'web'),
    impersonating: true,
  });
});

test('ztunnel may not impersonate an identity whose pods run on another node', () => {
  const r = authorizeIdentity(ztunnel1, 'spiffe://cluster.local/ns/app/sa/db', ctx);
  assert.equal(r.ok, false);
  assert.ok(!r.ok);
  assert.equal(r.code, status.PERMISSION_DENIED);
  assert.equal(r.reason, 'not_on_node');
  assert.match(
    r.message,
    /no pod with identity spiffe:\/\/cluster.local\/ns\/app\/sa\/db runs on node "node1"/,
  );
});

test('a workload account may not impersonate; a trusted account without a node may not either', () => {
  const web: Caller = { identity: sid('app', 'web'), node: 'node1', via: 'token-review' };
  const r1 = authorizeIdentity(web, 'spiffe://cluster.local/ns/app/sa/db', ctx);
  assert.ok(!r1.ok);
  assert.equal(r1.reason, 'impersonation_not_allowed');
  assert.match(r1.message, /may only get a certificate for itself/);
  const r2 = authorizeIdentity(
    { identity: sid('istio-system', 'ztunnel'), via: 'certificate' },
    'spiffe://cluster.local/ns/app/sa/web',
    ctx,
  );
  assert.ok(!r2.ok);
  assert.equal(r2.reason, 'impersonation_needs_node');
});

test('a malformed ImpersonatedIdentity is INVALID_ARGUMENT', () => {
  const r = authorizeIdentity(ztunnel1, 'spiffe://cluster.local/app/web', ctx);
  assert.ok(!r.ok);
  assert.equal(r.code, status.INVALID_ARGUMENT);
  assert.equal(r.reason, 'bad_impersonation');
});

test('the node map counts pods: the identity leaves the node with its last pod', () => {
  const m = new NodeIdentities();
  m.set('p1', 'n1', sid('app', 'web'));
  m.set('p2', 'n1', sid('app', 'web'));
  m.delete('p1');
  assert.ok(m.hasIdentityOnNode(sid('app', 'web'), 'n1'));
  m.set('p2', 'n2', sid('app', 'web')); // moved
  assert.ok(!m.hasIdentityOnNode(sid('app', 'web'), 'n1'));
  assert.deepEqual(m.identitiesOnNode('n2'), ['spiffe://cluster.local/ns/app/sa/web']);
  m.delete('p2');
  assert.deepEqual(m.identitiesOnNode('n2'), []);
});
