import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileAuthz, parseWhenKey } from '../../../../src/l7/security/authz-compile.js';
import {
  decideAuthz,
  deniedDetails,
  type AuthzAttributes,
  type RequestAuth,
} from '../../../../src/l7/security/authz-decide.js';
import type { AuthzPolicy } from '../../../../src/l7/security/model.js';
import { normalizePath } from '../../../../src/l7/security/normalize-path.js';

const CURL = 'spiffe://cluster.local/ns/default/sa/curl';
const PRODUCTPAGE = 'spiffe://cluster.local/ns/bookinfo/sa/productpage';

function req(over: Partial<AuthzAttributes> & { headers?: Record<string, string> } = {}): AuthzAttributes {
  const headers = over.headers ?? {};
  return {
    sourceIp: '10.244.1.5',
    remoteIp: '10.244.1.5',
    sourcePrincipal: CURL,
    destinationIp: '10.96.0.20',
    destinationPort: 9080,
    method: 'GET',
    path: '/reviews/1',
    authority: 'reviews:9080',
    header: (n) => headers[n],
    ...over,
  };
}

function ap(
  name: string,
  action: AuthzPolicy['action'],
  rules: AuthzPolicy['rules'],
  extra: Partial<AuthzPolicy> = {},
): AuthzPolicy {
  return { namespace: 'bookinfo', name, action, rules, ...extra };
}

const JWT: RequestAuth = {
  principal: 'https://issuer.example/alice',
  audiences: ['bookinfo'],
  presenter: 'web',
  claims: { iss: 'https://issuer.example', sub: 'alice', groups: ['admins', 'dev'], org: { team: 'blue' } },
};

test('no policy allows; an ALLOW policy with no rules denies everything; a DENY with no rules does nothing', () => {
  assert.equal(decideAuthz(req(), undefined).allow, true);
  assert.equal(decideAuthz(req(), compileAuthz([ap('none', 'ALLOW', [])])).allow, false);
  assert.equal(decideAuthz(req(), compileAuthz([ap('nothing', 'DENY', [])])).allow, true);
  // The rule {} matches every request.
  assert.equal(decideAuthz(req(), compileAuthz([ap('all', 'ALLOW', [{}])])).allow, true);
  assert.equal(decideAuthz(req(), compileAuthz([ap('all', 'DENY', [{}])])).allow, false);
});

test('DENY DELETE for the curl identity, GET still allowed; the deny names its policy and rule', () => {
  const c = compileAuthz([
    ap('deny-delete', 'DENY', [
      {
        to: [{ operation: { methods: ['POST'] } }],
        from: [{ source: { principals: ['cluster.local/ns/other/sa/x'] } }],
      },
      {
        from: [{ source: { principals: ['cluster.local/ns/default/sa/curl'] } }],
        to: [{ operation: { methods: ['DELETE'] } }],
      },
    ]),
  ]);
  const del = decideAuthz(req({ method: 'DELETE' }), c);
  assert.equal(del.allow, false);
  assert.equal(del.by, 'DENY');
  assert.deepEqual(del.policy, { namespace: 'bookinfo', name: 'deny-delete', rule: 1 });
  assert.equal(
    deniedDetails(del),
    'rbac_access_denied_matched_policy[ns[bookinfo]-policy[deny-delete]-rule[1]]',
  );
  assert.equal(decideAuthz(req({ method: 'GET' }), c).allow, true);
  assert.equal(decideAuthz(req({ method: 'DELETE', sourcePrincipal: PRODUCTPAGE }), c).allow, true);
});

test('ALLOW path prefix: a matching path is allowed, others get the [none] denial', () => {
  const c = compileAuthz([
    ap('allow-reviews', 'ALLOW', [{ to: [{ operation: { paths: ['/reviews/*'], methods: ['GET'] } }] }]),
  ]);
  assert.equal(decideAuthz(req({ path: '/reviews/2' }), c).allow, true);
  const d = decideAuthz(req({ path: '/ratings/2' }), c);
  assert.equal(d.allow, false);
  assert.equal(d.by, 'NONE');
  assert.equal(deniedDetails(d), 'rbac_access_denied_matched_policy[none]');
  assert.equal(decideAuthz(req({ path: '/reviews/2', method: 'POST' }), c).allow, false);
});

test('DENY beats ALLOW; CUSTOM comes first and denies (no ext_authz here)', () => {
  const c = compileAuthz([
    ap('allow-all', 'ALLOW', [{}]),
    ap('deny-admin', 'DENY', [{ to: [{ operation: { paths: ['/admin*'] } }] }]),
    ap('ext', 'CUSTOM', [{ to: [{ operation: { paths: ['/ext'] } }] }], { provider: 'opa' }),
  ]);
  assert.equal(decideAuthz(req({ path: '/admin/x' }), c).by, 'DENY');
  const ext = decideAuthz(req({ path: '/ext' }), c);
  assert.equal(ext.allow, false);
  assert.equal(ext.by, 'CUSTOM');
  assert.equal(decideAuthz(req({ path: '/ok' }), c).allow, true);
});

test('AUDIT matches are reported, never block; dry-run policies give a shadow verdict only', () => {
  const c = compileAuthz([
    ap('audit-get', 'AUDIT', [{ to: [{ operation: { methods: ['GET'] } }] }]),
    ap('would-deny', 'DENY', [{ to: [{ operation: { methods: ['GET'] } }] }], { dryRun: true }),
  ]);
  const d = decideAuthz(req(), c);
  assert.equal(d.allow, true);
  assert.deepEqual(d.audits, [{ namespace: 'bookinfo', name: 'audit-get', rule: 0 }]);
  assert.equal(d.shadow?.allow, false);
  assert.equal(d.shadow?.policy?.name, 'would-deny');
  assert.deepEqual(decideAuthz(req({ method: 'POST' }), c).audits, []);
});

test('when: request headers, source and destination attributes, notValues', () => {
  const c = compileAuthz([
    ap('hdr', 'ALLOW', [
      {
        when: [
          { key: 'request.headers[x-version]', values: ['v2', 'v3*'] },
          { key: 'source.ip', values: ['10.244.1.0/24'] },
          { key: 'destination.port', values: ['9080'] },
          { key: 'source.namespace', notValues: ['blocked'] },
        ],
      },
    ]),
  ]);
  assert.equal(decideAuthz(req({ headers: { 'x-version': 'v2' } }), c).allow, true);
  assert.equal(decideAuthz(req({ headers: { 'x-version': 'v3-beta' } }), c).allow, true);
  assert.equal(decideAuthz(req({ headers: { 'x-version': 'v1' } }), c).allow, false);
  assert.equal(decideAuthz(req({}), c).allow, false, 'a missing header never matches values');
  assert.equal(decideAuthz(req({ headers: { 'x-version': 'v2' }, sourceIp: '10.244.2.9' }), c).allow, false);
  assert.equal(decideAuthz(req({ headers: { 'x-version': 'v2' }, destinationPort: 9090 }), c).allow, false);
  assert.equal(
    decideAuthz(
      req({ headers: { 'x-version': 'v2' }, sourcePrincipal: 'spiffe://cluster.local/ns/blocked/sa/a' }),
      c,
    ).allow,
    false,
  );
});

test('source: namespaces, serviceAccounts, ipBlocks and not-variants; values OR, fields AND, from entries OR', () => {
  const c = compileAuthz([
    ap('src', 'ALLOW', [
      {
        from: [
          { source: { namespaces: ['bookinfo'], notPrincipals: ['*/sa/reviews'] } },
          { source: { serviceAccounts: ['default/curl'], notIpBlocks: ['10.244.9.0/24'] } },
        ],
      },
    ]),
  ]);
  assert.equal(decideAuthz(req({ sourcePrincipal: PRODUCTPAGE }), c).allow, true);
  assert.equal(
    decideAuthz(req({ sourcePrincipal: 'spiffe://cluster.local/ns/bookinfo/sa/reviews' }), c).allow,
    false,
  );
  assert.equal(decideAuthz(req(), c).allow, true);
  assert.equal(decideAuthz(req({ sourceIp: '10.244.9.3' }), c).allow, false);
  assert.equal(
    decideAuthz(req({ sourcePrincipal: '' }), c).allow,
    false,
    'plaintext: no principal, no namespace',
  );
});

test('request principals, audiences, presenter and claims from a verified JWT', () => {
  const c = compileAuthz([
    ap('jwt', 'ALLOW', [
      {
        from: [{ source: { requestPrincipals: ['https://issuer.example/*'] } }],
        when: [
          { key: 'request.auth.claims[groups]', values: ['admins'] },
          { key: 'request.auth.claims[org][team]', values: ['blue'] },
          { key: 'request.auth.audiences', values: ['bookinfo'] },
          { key: 'request.auth.presenter', values: ['web'] },
        ],
      },
    ]),
  ]);
  assert.equal(decideAuthz(req({ auth: JWT }), c).allow, true);
  assert.equal(decideAuthz(req(), c).allow, false, 'no token: no request principal');
  assert.equal(
    decideAuthz(req({ auth: { ...JWT, claims: { ...JWT.claims, groups: ['dev'] } } }), c).allow,
    false,
  );
  // requestPrincipals ["*"] is how a token is required.
  const need = compileAuthz([
    ap('require-jwt', 'ALLOW', [{ from: [{ source: { requestPrincipals: ['*'] } }] }]),
  ]);
  assert.equal(decideAuthz(req(), need).allow, false);
  assert.equal(decideAuthz(req({ auth: JWT }), need).allow, true);
  // notRequestPrincipals ["*"]: requests without a token.
  const deny = compileAuthz([
    ap('deny-anon', 'DENY', [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }]),
  ]);
  assert.equal(decideAuthz(req(), deny).allow, false);
  assert.equal(decideAuthz(req({ auth: JWT }), deny).allow, true);
});

test('hosts include the port and ignore case; paths: suffix, templates; ports are service ports', () => {
  const c = compileAuthz([
    ap('ops', 'ALLOW', [
      { to: [{ operation: { hosts: ['Reviews:9080'], paths: ['*.json'] } }] },
      { to: [{ operation: { paths: ['/api/{*}/details', '/files/{**}'], ports: ['9080'] } }] },
    ]),
  ]);
  assert.equal(decideAuthz(req({ path: '/a.json' }), c).allow, true);
  assert.equal(decideAuthz(req({ path: '/a.json', authority: 'reviews' }), c).allow, false);
  assert.equal(decideAuthz(req({ path: '/api/7/details' }), c).allow, true);
  assert.equal(decideAuthz(req({ path: '/api/7/8/details' }), c).allow, false);
  assert.equal(decideAuthz(req({ path: '/files/a/b/c' }), c).allow, true);
  assert.equal(decideAuthz(req({ path: '/files/a', destinationPort: 80 }), c).allow, false);
});

test('many rules: the exact-path index finds the same first match as a scan', () => {
  const policies: AuthzPolicy[] = [];
  for (let i = 0; i < 100; i++)
    policies.push(
      ap(`p${i}`, 'DENY', [
        { to: [{ operation: { paths: [`/api/v${i}`], methods: ['DELETE'] } }] },
        {
          to: [{ operation: { paths: [`/api/v${i}/*`] } }],
          when: [{ key: 'request.headers[x-deny]', values: ['yes'] }],
        },
      ]),
    );
  const c = compileAuthz(policies);
  assert.equal(c.size, 200);
  assert.equal(c.deny.byPath.size, 100);
  assert.deepEqual(decideAuthz(req({ path: '/api/v42', method: 'DELETE' }), c).policy, {
    namespace: 'bookinfo',
    name: 'p42',
    rule: 0,
  });
  assert.equal(decideAuthz(req({ path: '/api/v42', method: 'GET' }), c).allow, true);
  assert.deepEqual(
    decideAuthz(req({ path: '/api/v7/x', headers: { 'x-deny': 'yes' } }), c).policy?.name,
    'p7',
  );
});

test('unknown when keys are named; path normalization resolves dot segments', () => {
  assert.match(String(parseWhenKey('request.foo')), /unknown condition key "request.foo"/);
  assert.deepEqual(parseWhenKey('request.auth.claims[a][b]'), { kind: 'claim', path: ['a', 'b'] });
  assert.equal(normalizePath('/public/../admin'), '/admin');
  assert.equal(normalizePath('/a/./b/%61dmin'), '/a/b/admin');
  assert.equal(normalizePath('/a%2Fb'), '/a%2Fb');
  const c = compileAuthz([ap('deny-admin', 'DENY', [{ to: [{ operation: { paths: ['/admin*'] } }] }])]);
  assert.equal(decideAuthz(req({ path: normalizePath('/public/../admin/x') }), c).allow, false);
});
