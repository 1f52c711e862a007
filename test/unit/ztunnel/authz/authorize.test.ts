import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SpiffeId } from '../../../../src/pki/spiffe.js';
import type { Authorization, Match } from '../../../../src/xds/security-types.js';
import { authorize, type AuthzConnection } from '../../../../src/ztunnel/authz/authorize.js';
import { policiesFor } from '../../../../src/ztunnel/authz/policies-for.js';
import { convertPolicy } from '../../../../src/ztunnel/state/convert-policy.js';
import type { Policy } from '../../../../src/ztunnel/state/types.js';
import { ip, pod, policy, storeOf, wl } from '../fixtures.js';

const store = storeOf([pod('server', '10.0.0.2')]);
const server = wl(store, 'server');
const ALICE: SpiffeId = { trustDomain: 'cluster.local', namespace: 'team-a', serviceAccount: 'alice' };

function conn(over: Partial<AuthzConnection> = {}): AuthzConnection {
  return {
    srcIdentity: ALICE,
    srcIp: '10.0.0.1',
    dstIp: '10.0.0.2',
    dstPort: 8080,
    dstWorkload: server,
    ...over,
  };
}

function internal(a: Authorization): Policy {
  const c = convertPolicy(a);
  if (!c.ok) throw new Error(c.errors.join('; '));
  return c.value;
}

/** Whether an ALLOW policy with this single match lets the connection in. */
function allows(m: Match, c: AuthzConnection = conn()): boolean {
  return authorize(c, [internal(policy('p', 'ALLOW', [[m]]))]).allowed;
}

const cidr = (text: string, length: number) => ({ address: ip(text), length });

test('no policies: allowed', () => {
  const d = authorize(conn(), []);
  assert.equal(d.allowed, true);
  assert.equal(d.outcome, 'no-allow-policies');
  assert.deepEqual(d.dryRunDecisions, []);
});

test('principals: exact, prefix, suffix, presence, compared without spiffe://', () => {
  assert.ok(allows({ principals: [{ exact: 'cluster.local/ns/team-a/sa/alice' }] }));
  assert.ok(!allows({ principals: [{ exact: 'spiffe://cluster.local/ns/team-a/sa/alice' }] }));
  assert.ok(allows({ principals: [{ prefix: 'cluster.local/ns/team-a/' }] }));
  assert.ok(allows({ principals: [{ suffix: '/sa/alice' }] }));
  assert.ok(allows({ principals: [{ presence: {} }] }));
  assert.ok(!allows({ principals: [{ exact: 'cluster.local/ns/team-a/sa/bob' }] }));
  // values of one field OR'd
  assert.ok(allows({ principals: [{ exact: 'x' }, { suffix: 'alice' }] }));
  assert.ok(!allows({ notPrincipals: [{ exact: 'x' }, { suffix: 'alice' }] }));
  assert.ok(allows({ notPrincipals: [{ exact: 'x' }] }));
});

test('namespaces and service accounts, positive and not_*', () => {
  assert.ok(allows({ namespaces: [{ exact: 'team-a' }] }));
  assert.ok(!allows({ namespaces: [{ exact: 'team-b' }] }));
  assert.ok(allows({ namespaces: [{ prefix: 'team-' }] }));
  assert.ok(!allows({ notNamespaces: [{ exact: 'team-a' }] }));
  assert.ok(allows({ notNamespaces: [{ exact: 'team-b' }] }));
  assert.ok(allows({ serviceAccounts: [{ namespace: 'team-a', serviceAccount: 'alice' }] }));
  assert.ok(!allows({ serviceAccounts: [{ namespace: 'team-b', serviceAccount: 'alice' }] }));
  assert.ok(!allows({ notServiceAccounts: [{ namespace: 'team-a', serviceAccount: 'alice' }] }));
  assert.ok(allows({ notServiceAccounts: [{ namespace: 'team-a', serviceAccount: 'bob' }] }));
});

test('source and destination IPs as CIDRs (IPv4 and IPv6), and destination ports', () => {
  assert.ok(allows({ sourceIps: [cidr('10.0.0.0', 8)] }));
  assert.ok(!allows({ sourceIps: [cidr('10.0.1.0', 24)] }));
  assert.ok(!allows({ notSourceIps: [cidr('10.0.0.1', 32)] }));
  assert.ok(allows({ notSourceIps: [cidr('10.0.0.9', 32)] }));
  assert.ok(allows({ destinationIps: [cidr('10.0.0.2', 32)] }));
  assert.ok(!allows({ notDestinationIps: [cidr('10.0.0.0', 30)] }));
  const v6 = conn({ srcIp: 'fd00::1:5', dstIp: 'fd00::2' });
  assert.ok(allows({ sourceIps: [cidr('fd00::1:0', 112)] }, v6));
  assert.ok(!allows({ sourceIps: [cidr('10.0.0.0', 0)] }, v6), 'an IPv4 range never holds an IPv6 address');
  assert.ok(allows({ sourceIps: [cidr('10.0.0.0', 8)] }, conn({ srcIp: '::ffff:10.9.9.9' })), 'v4-mapped');
  assert.ok(allows({ destinationPorts: [80, 8080] }));
  assert.ok(!allows({ destinationPorts: [80] }));
  assert.ok(!allows({ notDestinationPorts: [8080] }));
  assert.ok(allows({ notDestinationPorts: [80] }));
});

test('within a match the fields are AND’d', () => {
  assert.ok(allows({ namespaces: [{ exact: 'team-a' }], destinationPorts: [8080] }));
  assert.ok(!allows({ namespaces: [{ exact: 'team-a' }], destinationPorts: [80] }));
  assert.ok(!allows({ principals: [{ presence: {} }], notSourceIps: [cidr('10.0.0.0', 8)] }));
});

test('structure: groups OR’d, rules AND’d, matches OR’d; empty pieces as ztunnel', () => {
  const ns = (n: string): Match => ({ namespaces: [{ exact: n }] });
  const port = (p: number): Match => ({ destinationPorts: [p] });
  const groups = (gs: Match[][][]): Policy =>
    internal({
      name: 'p',
      namespace: 'default',
      scope: 1,
      groups: gs.map((rules) => ({ rules: rules.map((m) => ({ matches: m })) })),
    });
  const ok = (p: Policy): boolean => authorize(conn(), [p]).allowed;
  // rules AND'd
  assert.ok(ok(groups([[[ns('team-a')], [port(8080)]]])));
  assert.ok(!ok(groups([[[ns('team-a')], [port(80)]]])));
  // matches OR'd within a rule
  assert.ok(ok(groups([[[ns('team-b'), port(8080)]]])));
  // groups OR'd
  assert.ok(ok(groups([[[ns('team-b')]], [[port(8080)]]])));
  assert.ok(!ok(groups([[[ns('team-b')]], [[port(80)]]])));
  // a policy without groups matches nothing: an ALLOW-nothing policy denies everything
  assert.ok(!ok(groups([])));
  // a group without rules, and a rule without matches, are true
  assert.ok(ok(groups([[]])));
  assert.ok(ok(groups([[[]]])));
  // a match without any field never matches (so a rule of only empty matches is false)
  assert.ok(!ok(groups([[[{}]]])));
  assert.ok(ok(groups([[[{}, port(8080)]]])));
});

test('any matching DENY wins over a matching ALLOW; ALLOWs that miss deny', () => {
  const allowAll = internal(policy('allow-all', 'ALLOW', [[]]));
  const denyPort = internal(policy('deny-8080', 'DENY', [[{ destinationPorts: [8080] }]]));
  const d = authorize(conn(), [allowAll, denyPort]);
  assert.equal(d.allowed, false);
  assert.equal(d.policy, 'default/deny-8080');
  assert.equal(d.outcome, 'denied-by-policy');
  const denyOther = internal(policy('deny-80', 'DENY', [[{ destinationPorts: [80] }]]));
  const d2 = authorize(conn(), [denyOther, allowAll]);
  assert.deepEqual([d2.allowed, d2.policy, d2.outcome], [true, 'default/allow-all', 'allowed-by-policy']);
  const onlyBob = internal(policy('bob', 'ALLOW', [[{ principals: [{ suffix: '/sa/bob' }] }]]));
  const d3 = authorize(conn(), [denyOther, onlyBob]);
  assert.deepEqual([d3.allowed, d3.policy, d3.outcome], [false, undefined, 'no-allow-match']);
  const d4 = authorize(conn(), [denyOther]);
  assert.deepEqual([d4.allowed, d4.outcome], [true, 'no-allow-policies']);
});

test('no identity (plaintext): positives on principal/namespace/SA never match, their not_* always do', () => {
  const plain = conn({ srcIdentity: undefined });
  assert.ok(!allows({ principals: [{ presence: {} }] }, plain));
  assert.ok(!allows({ principals: [{ prefix: '' }] }, plain));
  assert.ok(!allows({ namespaces: [{ prefix: '' }] }, plain));
  assert.ok(!allows({ serviceAccounts: [{ namespace: 'team-a', serviceAccount: 'alice' }] }, plain));
  assert.ok(allows({ notPrincipals: [{ presence: {} }] }, plain));
  assert.ok(allows({ notNamespaces: [{ exact: 'team-a' }] }, plain));
  assert.ok(allows({ notServiceAccounts: [{ namespace: 'team-a', serviceAccount: 'alice' }] }, plain));
  // IP and port fields still apply
  assert.ok(allows({ sourceIps: [cidr('10.0.0.0', 8)] }, plain));
});

test('STRICT as istiod writes it: DENY notPrincipals presence, with a PERMISSIVE port exception', () => {
  const strict = internal(
    policy('converted_peer_authentication_x', 'DENY', [
      [{ notPrincipals: [{ presence: {} }], notDestinationPorts: [9090] }],
    ]),
  );
  const plain = authorize(conn({ srcIdentity: undefined }), [strict]);
  assert.equal(plain.allowed, false);
  assert.equal(plain.reason, 'denied by DENY policy default/converted_peer_authentication_x');
  assert.equal(authorize(conn(), [strict]).allowed, true, 'mTLS peers pass');
  assert.equal(
    authorize(conn({ srcIdentity: undefined, dstPort: 9090 }), [strict]).allowed,
    true,
    'the excepted port',
  );
});

test('dry-run policies are reported, never enforced', () => {
  const dryDeny = internal(policy('dry-deny', 'DENY', [[{ destinationPorts: [8080] }]], { dryRun: true }));
  const dryAllow = internal(policy('dry-allow', 'ALLOW', [[{ destinationPorts: [1] }]], { dryRun: true }));
  const d = authorize(conn(), [dryDeny, dryAllow]);
  assert.equal(d.allowed, true);
  assert.equal(d.outcome, 'no-allow-policies', 'a dry-run ALLOW does not turn on allow-list mode');
  assert.deepEqual(d.dryRunDecisions, [
    { policy: 'default/dry-deny', action: 'deny', matched: true },
    { policy: 'default/dry-allow', action: 'allow', matched: false },
  ]);
  assert.deepEqual(d.dryRunResult, { allowed: false, policy: 'default/dry-deny' });
  const onlyAllow = authorize(conn(), [dryAllow]);
  assert.deepEqual(onlyAllow.dryRunResult, { allowed: false });
});

test('candidates: GLOBAL ones, NAMESPACE ones of the workload’s namespace, and the selector ones it lists', () => {
  const policies: Authorization[] = [
    policy('global-deny', 'DENY', [[{ destinationPorts: [1] }]], { namespace: 'istio-system', scope: 0 }),
    policy('ns', 'ALLOW', [[{ namespaces: [{ exact: 'team-a' }] }]]),
    policy('other-ns', 'DENY', [[]], { namespace: 'other' }),
    policy('selected', 'ALLOW', [[{ destinationPorts: [1] }]], { scope: 2 }),
    policy('unselected', 'DENY', [[]], { scope: 2 }),
  ];
  const s = storeOf(
    [pod('server', '10.0.0.2', { authorizationPolicies: ['default/selected', 'default/not-yet'] })],
    policies,
  );
  const w = wl(s, 'server');
  const c = policiesFor(s, w);
  assert.deepEqual([...c.deny, ...c.allow].map((p) => p.key).sort(), [
    'default/ns',
    'default/selected',
    'istio-system/global-deny',
  ]);
  assert.deepEqual(c.missing, ['default/not-yet']);
  assert.equal(policiesFor(s, w), c, 'cached');
  assert.equal(authorize(conn({ dstWorkload: w }), c).allowed, true);
  // a policy change invalidates the cache and is seen at once
  s.applyAuthorizations(
    new Map([['default/ns', policy('ns', 'DENY', [[{ namespaces: [{ exact: 'team-a' }] }]])]]),
    [],
  );
  const c2 = policiesFor(s, w);
  assert.notEqual(c2, c);
  const d = authorize(conn({ dstWorkload: w }), c2);
  assert.deepEqual([d.allowed, d.policy], [false, 'default/ns']);
});
