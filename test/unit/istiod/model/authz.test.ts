import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AmbientIndex, authz, pod, workload } from './fixtures.js';
import {
  AuthorizationAction as AuthzAction,
  AuthorizationScope as AuthzScope,
} from '../../../../src/xds/security-types.js';

test('scopes: GLOBAL in the root namespace, NAMESPACE without selector, WORKLOAD_SELECTOR with one', () => {
  const idx = new AmbientIndex();
  idx.upsert(authz('g', { action: 'DENY', rules: [{}] }, 'istio-system'));
  idx.upsert(authz('n', { rules: [{}] }));
  idx.upsert(authz('s', { selector: { matchLabels: { app: 'web' } }, rules: [{}] }));
  assert.equal(idx.getAuthorization('istio-system/g')?.scope, AuthzScope.GLOBAL);
  assert.equal(idx.getAuthorization('istio-system/g')?.action, AuthzAction.DENY);
  assert.equal(idx.getAuthorization('app/n')?.scope, AuthzScope.NAMESPACE);
  assert.equal(idx.getAuthorization('app/n')?.action, AuthzAction.ALLOW);
  assert.equal(idx.getAuthorization('app/s')?.scope, AuthzScope.WORKLOAD_SELECTOR);
});

test('selector policies (own and root namespace) are listed in the selected workloads', () => {
  const idx = new AmbientIndex();
  idx.upsert(pod('a', { labels: { app: 'web' } }));
  idx.upsert(pod('b', { labels: { app: 'db' }, ip: '10.0.0.2' }));
  const c = idx.upsert(authz('s', { selector: { matchLabels: { app: 'web' } }, rules: [{}] }));
  assert.deepEqual([...c.authorizations.upserted.keys()], ['app/s']);
  assert.deepEqual([...c.addresses.upserted.keys()], ['Kubernetes//Pod/app/a']);
  idx.upsert(authz('mesh', { selector: { matchLabels: { app: 'web' } }, rules: [{}] }, 'istio-system'));
  idx.upsert(authz('ns', { rules: [{}] }));
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, ['app/s', 'istio-system/mesh']);
  assert.deepEqual(workload(idx, 'b').authorizationPolicies, []);
  const r = idx.remove('AuthorizationPolicy', 'app', 's');
  assert.deepEqual([...r.authorizations.removed], ['app/s']);
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, ['istio-system/mesh']);
});

test('every source and operation field converts', () => {
  const idx = new AmbientIndex();
  idx.upsert(
    authz('full', {
      action: 'ALLOW',
      rules: [
        {
          from: [
            {
              source: {
                principals: ['spiffe://cluster.local/ns/a/sa/b', 'cluster.local/ns/x/*', '*/sa/admin', '*'],
                notPrincipals: ['cluster.local/ns/bad/sa/bad'],
                namespaces: ['a'],
                notNamespaces: ['b*'],
                ipBlocks: ['10.0.0.0/8', '1.2.3.4'],
                notIpBlocks: ['10.1.0.0/16'],
                serviceAccounts: ['sa1', 'other/sa2'],
              },
            },
          ],
          to: [{ operation: { ports: ['80', '443'], notPorts: ['8080'] } }],
          when: [
            { key: 'destination.port', values: ['9000'] },
            { key: 'source.ip', notValues: ['fd00::/8'] },
          ],
        },
      ],
    }),
  );
  const a = idx.getAuthorization('app/full');
  assert.ok(a);
  assert.deepEqual(a.groups, [
    {
      rules: [
        { matches: [{ destinationPorts: [80, 443], notDestinationPorts: [8080] }] },
        {
          matches: [
            {
              principals: [
                { exact: 'cluster.local/ns/a/sa/b' },
                { prefix: 'cluster.local/ns/x/' },
                { suffix: '/sa/admin' },
                { presence: {} },
              ],
              notPrincipals: [{ exact: 'cluster.local/ns/bad/sa/bad' }],
              namespaces: [{ exact: 'a' }],
              notNamespaces: [{ prefix: 'b' }],
              sourceIps: [
                { address: new Uint8Array([10, 0, 0, 0]), length: 8 },
                { address: new Uint8Array([1, 2, 3, 4]), length: 32 },
              ],
              notSourceIps: [{ address: new Uint8Array([10, 1, 0, 0]), length: 16 }],
              serviceAccounts: [
                { namespace: 'app', serviceAccount: 'sa1' },
                { namespace: 'other', serviceAccount: 'sa2' },
              ],
            },
          ],
        },
        { matches: [{ destinationPorts: [9000] }] },
        {
          matches: [
            { notSourceIps: [{ address: new Uint8Array([0xfd, ...new Array(15).fill(0)]), length: 8 }] },
          ],
        },
      ],
    },
  ]);
  assert.deepEqual(idx.warnings(), []);
});

test('ALLOW: rules with HTTP attributes are dropped; a policy left with no rules still exists', () => {
  const idx = new AmbientIndex();
  idx.upsert(
    authz('http', {
      rules: [
        { to: [{ operation: { methods: ['GET'] } }] },
        { from: [{ source: { requestPrincipals: ['*'] } }] },
        { when: [{ key: 'request.headers[x]', values: ['y'] }] },
      ],
    }),
  );
  const a = idx.getAuthorization('app/http');
  assert.ok(a, 'the policy is still sent so that it turns on default-deny');
  assert.deepEqual(a.groups, []);
  idx.upsert(
    authz('mixed', {
      rules: [{ to: [{ operation: { paths: ['/x'] } }] }, { from: [{ source: { namespaces: ['ok'] } }] }],
    }),
  );
  assert.deepEqual(idx.getAuthorization('app/mixed')?.groups, [
    { rules: [{ matches: [{ namespaces: [{ exact: 'ok' }] }] }] },
  ]);
  const w = idx.warnings().find((x) => x.name === 'http');
  assert.match(w?.message ?? '', /methods.*requestPrincipals|request/);
});

test('DENY: HTTP parts are stripped and the rest kept (denies more, never less)', () => {
  const idx = new AmbientIndex();
  idx.upsert(
    authz('d', {
      action: 'DENY',
      rules: [
        {
          from: [{ source: { namespaces: ['evil'] } }],
          to: [{ operation: { ports: ['80'], methods: ['POST'] } }],
        },
        { when: [{ key: 'request.auth.claims[iss]', values: ['x'] }] },
      ],
    }),
  );
  assert.deepEqual(idx.getAuthorization('app/d')?.groups, [
    {
      rules: [{ matches: [{ destinationPorts: [80] }] }, { matches: [{ namespaces: [{ exact: 'evil' }] }] }],
    },
    { rules: [] },
  ]);
  assert.match(idx.warnings()[0]?.message ?? '', /denies more/);
});

test('empty rule matches everything; no rules in ALLOW matches nothing', () => {
  const idx = new AmbientIndex();
  idx.upsert(authz('all', { rules: [{}] }));
  idx.upsert(authz('none', {}));
  assert.deepEqual(idx.getAuthorization('app/all')?.groups, [{ rules: [] }]);
  assert.deepEqual(idx.getAuthorization('app/none')?.groups, []);
});

test('AUDIT, CUSTOM and targetRefs policies are skipped with a reason', () => {
  const idx = new AmbientIndex();
  idx.upsert(pod('a', { labels: { app: 'web' } }));
  idx.upsert(authz('audit', { action: 'AUDIT', selector: { matchLabels: { app: 'web' } }, rules: [{}] }));
  idx.upsert(authz('custom', { action: 'CUSTOM', rules: [{}] }));
  idx.upsert(authz('wp', { targetRefs: [{ kind: 'Gateway', name: 'wp' }], rules: [{}] }));
  assert.equal(idx.snapshot().authorizations.size, 0);
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, []);
  assert.deepEqual(
    idx
      .warnings()
      .map((w) => w.name)
      .sort(),
    ['audit', 'custom', 'wp'],
  );
  // Turning AUDIT into ALLOW lists it in the workload.
  const c = idx.upsert(
    authz('audit', { action: 'ALLOW', selector: { matchLabels: { app: 'web' } }, rules: [{}] }),
  );
  assert.ok(c.addresses.upserted.has('Kubernetes//Pod/app/a'));
  assert.deepEqual(workload(idx, 'a').authorizationPolicies, ['app/audit']);
});
