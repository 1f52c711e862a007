import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbientIndex, peerAuthn, pod, workload } from './fixtures.js';
import {
  AuthorizationAction as AuthzAction,
  AuthorizationScope as AuthzScope,
} from '../../../../src/xds/security-types.js';

const STATIC = 'istio-system/istio_converted_static_strict';
const NO_ID = { notPrincipals: [{ presence: {} }] };
const sel = { matchLabels: { app: 'web' } };

function setup(): AmbientIndex {
  const idx = new AmbientIndex();
  idx.upsert(pod('a', { labels: { app: 'web' } }));
  idx.upsert(pod('b', { labels: { app: 'db' }, ip: '10.0.0.2' }));
  return idx;
}

test('STRICT namespace policy: the static strict DENY policy, referenced by its workloads', () => {
  const idx = setup();
  const c = idx.upsert(peerAuthn('default', { mtls: { mode: 'STRICT' } }));
  assert.deepEqual([...c.authorizations.upserted.keys()], [STATIC]);
  assert.deepEqual(idx.getAuthorization(STATIC), {
    name: 'istio_converted_static_strict',
    namespace: 'istio-system',
    scope: AuthzScope.WORKLOAD_SELECTOR,
    action: AuthzAction.DENY,
    groups: [{ rules: [{ matches: [NO_ID] }] }],
  });
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, [STATIC]);
  assert.deepEqual(workload(idx, 'b').authorizationPolicies, [STATIC]);
  const r = idx.remove('PeerAuthentication', 'app', 'default');
  assert.deepEqual([...r.authorizations.removed], [STATIC]);
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, []);
});

test('PERMISSIVE and DISABLE produce nothing at L4', () => {
  const idx = setup();
  idx.upsert(peerAuthn('p', { mtls: { mode: 'PERMISSIVE' } }));
  idx.upsert(peerAuthn('d', { selector: sel, mtls: { mode: 'DISABLE' } }));
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, []);
  assert.deepEqual(workload(idx, 'b').authorizationPolicies, []);
  assert.deepEqual(
    [...idx.snapshot().authorizations.keys()].filter((k) => k !== STATIC),
    [],
  );
});

test('precedence: workload over namespace over mesh-wide', () => {
  const idx = setup();
  idx.upsert(peerAuthn('mesh', { mtls: { mode: 'STRICT' } }, 'istio-system'));
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, [STATIC]);
  idx.upsert(peerAuthn('ns', { mtls: { mode: 'PERMISSIVE' } }));
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, []);
  idx.upsert(peerAuthn('web', { selector: sel, mtls: { mode: 'STRICT' } }));
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, [STATIC]);
  assert.deepEqual(workload(idx, 'b').authorizationPolicies, []);
  // An UNSET namespace policy inherits the mesh-wide STRICT.
  idx.upsert(peerAuthn('ns', {}));
  assert.deepEqual(workload(idx, 'b').authorizationPolicies, [STATIC]);
});

test('STRICT with a PERMISSIVE port: converted policy exempting that port', () => {
  const idx = setup();
  idx.upsert(
    peerAuthn('web', {
      selector: sel,
      mtls: { mode: 'STRICT' },
      portLevelMtls: { '9090': { mode: 'PERMISSIVE' } },
    }),
  );
  const name = 'app/converted_peer_authentication_web';
  assert.deepEqual(idx.getAuthorization(name), {
    name: 'converted_peer_authentication_web',
    namespace: 'app',
    scope: AuthzScope.WORKLOAD_SELECTOR,
    action: AuthzAction.DENY,
    groups: [{ rules: [{ matches: [{ ...NO_ID, notDestinationPorts: [9090] }] }] }],
  });
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, [name]);
});

test('namespace STRICT inherited by a workload policy with only a PERMISSIVE port', () => {
  const idx = setup();
  idx.upsert(peerAuthn('ns', { mtls: { mode: 'STRICT' } }));
  idx.upsert(
    peerAuthn(
      'web',
      { selector: sel, portLevelMtls: { '8080': { mode: 'PERMISSIVE' } } },
      'app',
      '2024-02-01T00:00:00Z',
    ),
  );
  const name = 'app/converted_peer_authentication_web';
  assert.deepEqual(idx.getAuthorization(name)?.groups, [
    { rules: [{ matches: [{ ...NO_ID, notDestinationPorts: [8080] }] }] },
  ]);
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, [name]);
  assert.deepEqual(workload(idx, 'b').authorizationPolicies, [STATIC]);
  // Namespace turns PERMISSIVE: the port exception alone means nothing, so the converted policy goes away.
  const c = idx.upsert(peerAuthn('ns', { mtls: { mode: 'PERMISSIVE' } }));
  assert.ok(c.authorizations.removed.has(name));
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, []);
});

test('PERMISSIVE with a STRICT port: deny without identity on that port only', () => {
  const idx = setup();
  idx.upsert(
    peerAuthn('web', {
      selector: sel,
      mtls: { mode: 'PERMISSIVE' },
      portLevelMtls: { '9090': { mode: 'STRICT' } },
    }),
  );
  const name = 'app/converted_peer_authentication_web';
  assert.deepEqual(idx.getAuthorization(name)?.groups, [
    { rules: [{ matches: [{ ...NO_ID, destinationPorts: [9090] }] }] },
  ]);
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, [name]);
});

test('STRICT with only STRICT ports is plain STRICT', () => {
  const idx = setup();
  idx.upsert(
    peerAuthn('web', {
      selector: sel,
      mtls: { mode: 'STRICT' },
      portLevelMtls: { '9090': { mode: 'STRICT' } },
    }),
  );
  assert.equal(idx.getAuthorization('app/converted_peer_authentication_web'), undefined);
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, [STATIC]);
});

test('the oldest of two matching workload policies wins', () => {
  const idx = setup();
  idx.upsert(peerAuthn('newer', { selector: sel, mtls: { mode: 'STRICT' } }, 'app', '2024-05-01T00:00:00Z'));
  idx.upsert(
    peerAuthn('older', { selector: sel, mtls: { mode: 'PERMISSIVE' } }, 'app', '2023-05-01T00:00:00Z'),
  );
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, []);
});
