import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileConfig, portFor } from '../../../../src/l7/compile.js';
import { decide, DEFAULT_RETRY, type Decision } from '../../../../src/l7/route/decide.js';
import type { RouteRule } from '../../../../src/l7/model.js';
import { config, DEFAULT, request, V1, V2 } from '../fixtures.js';

function run(routes: RouteRule[] | undefined, req = request(), random = () => 0.5): Decision {
  const cfg = compileConfig(config(routes));
  const port = portFor(cfg, '10.96.0.10', 9080)!;
  return decide(req, port, cfg, random);
}

const to = (cluster: string, weight = 1) => ({ cluster, weight });
const rule = (
  name: string,
  matches: RouteRule['matches'],
  ...backends: ReturnType<typeof to>[]
): RouteRule => ({
  name,
  matches,
  action: { kind: 'route', backends },
});

test('no route object: the default cluster with Istio default retries; the port is found by VIP and by pod IP', () => {
  const d = run(undefined);
  assert.equal(d.kind, 'forward');
  assert.equal(d.kind === 'forward' && d.cluster.name, DEFAULT);
  assert.equal(d.kind === 'forward' && d.retry, DEFAULT_RETRY);
  const cfg = compileConfig(config());
  assert.ok(portFor(cfg, '10.0.0.1', 9080), 'a bound pod IP:port names the service port');
  assert.equal(portFor(cfg, '10.96.0.10', 9081), undefined);
});

test('first matching rule wins; entries are ORed, fields ANDed; nothing matches: 404 NR', () => {
  const routes = [
    rule(
      'jason',
      [{ headers: [{ name: 'end-user', match: { kind: 'exact', value: 'jason' } }], method: 'GET' }],
      to(V2),
    ),
    rule(
      'api',
      [
        { path: { kind: 'prefix', value: '/api' } },
        { query: [{ name: 'v', match: { kind: 'exact', value: '1' } }] },
      ],
      to(V1),
    ),
  ];
  const pick = (d: Decision) => (d.kind === 'forward' ? d.cluster.name : `${d.status} ${d.flag}`);
  assert.equal(pick(run(routes, request({ headers: { 'end-user': 'jason' } }))), V2);
  assert.equal(pick(run(routes, request({ method: 'POST', headers: { 'end-user': 'jason' } }))), '404 NR');
  assert.equal(pick(run(routes, request({ path: '/apifoo' }))), V1, 'Istio prefix is a raw string prefix');
  assert.equal(pick(run(routes, request({ query: 'a=b&v=1' }))), V1);
  assert.equal(pick(run(routes, request({ path: '/other' }))), '404 NR');
});

test('Gateway API PathPrefix is segment-wise; exact and regex match the whole path', () => {
  const routes = [
    rule('p', [{ path: { kind: 'pathPrefix', value: '/v2/' } }], to(V2)),
    rule('e', [{ path: { kind: 'exact', value: '/exact' } }], to(V1)),
    rule('r', [{ path: { kind: 'regex', value: '/r/[0-9]+' } }], to(V1)),
  ];
  const ok = (path: string) => run(routes, request({ path })).kind === 'forward';
  assert.ok(ok('/v2') && ok('/v2/x'));
  assert.ok(!ok('/v2x'));
  assert.ok(ok('/exact') && !ok('/exact/'));
  assert.ok(ok('/r/12') && !ok('/r/12x'));
});

test('withoutHeaders: a missing header counts as empty and the rule matches', () => {
  const routes = [
    rule(
      'w',
      [{ headers: [{ name: 'x-test', match: { kind: 'exact', value: 'a' }, invert: true }] }],
      to(V1),
    ),
  ];
  assert.equal(run(routes, request()).kind, 'forward');
  assert.equal(run(routes, request({ headers: { 'x-test': 'a' } })).kind, 'respond');
});

test('weights: share = w / sum, zero weight is never chosen', () => {
  const routes = [rule('split', [], to(V1, 90), to(V2, 10), to(DEFAULT, 0))];
  const counts = new Map<string, number>();
  for (let i = 0; i < 1000; i++) {
    const d = run(routes, request(), () => i / 1000);
    if (d.kind === 'forward') counts.set(d.cluster.name, (counts.get(d.cluster.name) ?? 0) + 1);
  }
  assert.equal(counts.get(V1), 900);
  assert.equal(counts.get(V2), 100);
  assert.equal(counts.get(DEFAULT), undefined);
});

test('an unknown cluster (missing subset): 503 NC for VirtualService, 500 for Gateway API routes', () => {
  const vs = run([rule('x', [], to('inbound-vip|9080|http/v9|reviews.bookinfo.svc.cluster.local'))]);
  assert.deepEqual(vs.kind === 'respond' && [vs.status, vs.flag], [503, 'NC']);
  const gw: RouteRule = {
    name: 'g',
    matches: [],
    action: { kind: 'route', backends: [to('nope')], missingStatus: 500 },
  };
  const d = run([gw]);
  assert.equal(d.kind === 'respond' && d.status, 500);
});

test('rewrites keep the query; Gateway API ReplacePrefixMatch "/" strips the prefix', () => {
  const routes: RouteRule[] = [
    {
      name: 'a',
      matches: [{ path: { kind: 'pathPrefix', value: '/api' } }],
      action: { kind: 'route', backends: [to(V1)], rewrite: { prefix: '/', authority: 'new-host' } },
    },
    {
      name: 'b',
      matches: [{ path: { kind: 'prefix', value: '/old' } }],
      action: { kind: 'route', backends: [to(V1)], rewrite: { prefix: '/new' } },
    },
  ];
  const a = run(routes, request({ path: '/api/users', query: 'id=1' }));
  assert.deepEqual(a.kind === 'forward' && [a.path, a.authority], ['/users?id=1', 'new-host']);
  const a2 = run(routes, request({ path: '/api' }));
  assert.equal(a2.kind === 'forward' && a2.path, '/');
  const b = run(routes, request({ path: '/oldthing' }));
  assert.equal(b.kind === 'forward' && b.path, '/newthing');
});

test('redirect and direct response', () => {
  const routes: RouteRule[] = [
    {
      name: 'r',
      matches: [{ path: { kind: 'exact', value: '/r' } }],
      action: { kind: 'redirect', status: 301, path: '/there' },
    },
    {
      name: 's',
      matches: [{ path: { kind: 'exact', value: '/s' } }],
      action: { kind: 'redirect', status: 302, scheme: 'https', host: 'example.com' },
    },
    { name: 'd', matches: [], action: { kind: 'direct', status: 418, body: 'teapot' } },
  ];
  const r = run(routes, request({ path: '/r', query: 'q=1' }));
  assert.deepEqual(r.kind === 'respond' && [r.status, r.location], [301, 'http://reviews:9080/there?q=1']);
  const s = run(routes, request({ path: '/s' }));
  assert.equal(s.kind === 'respond' && s.location, 'https://example.com/s');
  const d = run(routes, request({ path: '/x' }));
  assert.deepEqual(d.kind === 'respond' && [d.status, d.body], [418, 'teapot']);
});
