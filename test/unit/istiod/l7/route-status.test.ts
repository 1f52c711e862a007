import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ROUTE_CONTROLLER,
  routeStatus,
  serviceKeys,
  type RouteObject,
} from '../../../../src/istiod/l7/route-status.js';

const T0 = '2026-01-02T03:04:05Z';
const T1 = '2026-01-02T04:00:00Z';

const route = (over: Partial<RouteObject> = {}, backends = ['reviews-v1']): RouteObject => ({
  kind: 'HTTPRoute',
  metadata: { name: 'reviews', namespace: 'bookinfo', generation: 3 },
  spec: {
    parentRefs: [{ group: '', kind: 'Service', name: 'reviews', port: 9080 }],
    rules: [{ backendRefs: backends.map((name) => ({ name, port: 9080 })) }],
  },
  ...over,
});

type Cond = { type: string; status: string; reason: string; message: string; lastTransitionTime: string };
const conds = (s: Record<string, unknown> | undefined, i = 0) =>
  (s?.parents as Array<{ conditions: Cond[] }>)[i]!.conditions;

test('parent and backends exist: Accepted and ResolvedRefs true, with observedGeneration', () => {
  const s = routeStatus(route(), new Set(['bookinfo/reviews', 'bookinfo/reviews-v1']), T0);
  assert.deepEqual(s, {
    parents: [
      {
        parentRef: { group: '', kind: 'Service', name: 'reviews', port: 9080 },
        controllerName: ROUTE_CONTROLLER,
        conditions: [
          {
            type: 'Accepted',
            status: 'True',
            reason: 'Accepted',
            message: 'Route was valid',
            lastTransitionTime: T0,
            observedGeneration: 3,
          },
          {
            type: 'ResolvedRefs',
            status: 'True',
            reason: 'ResolvedRefs',
            message: 'All references resolved',
            lastTransitionTime: T0,
            observedGeneration: 3,
          },
        ],
      },
    ],
  });
});

test('a missing backend is BackendNotFound, naming each missing Service once', () => {
  const r = route({}, ['reviews-v1', 'reviews-v2', 'reviews-v2']);
  const [accepted, resolved] = conds(
    routeStatus(r, new Set(['bookinfo/reviews', 'bookinfo/reviews-v1']), T0),
  );
  assert.equal(accepted!.status, 'True');
  assert.deepEqual(
    [resolved!.status, resolved!.reason, resolved!.message],
    ['False', 'BackendNotFound', 'backend(s) not found: bookinfo/reviews-v2'],
  );
});

test('a missing parent Service is NoMatchingParent', () => {
  const [accepted] = conds(routeStatus(route(), new Set(['bookinfo/reviews-v1']), T0));
  assert.deepEqual(
    [accepted!.status, accepted!.reason, accepted!.message],
    ['False', 'NoMatchingParent', 'Service bookinfo/reviews not found'],
  );
});

test('no change, no write; a transition time is kept until its status changes', () => {
  const services = new Set(['bookinfo/reviews']);
  const first = routeStatus(route(), services, T0)!;
  assert.equal(routeStatus(route({ status: first }), services, T1), undefined);
  // The backend appears: ResolvedRefs flips (new time), Accepted keeps its time.
  const next = routeStatus(route({ status: first }), new Set([...services, 'bookinfo/reviews-v1']), T1);
  const [accepted, resolved] = conds(next);
  assert.equal(accepted!.lastTransitionTime, T0);
  assert.deepEqual([resolved!.status, resolved!.lastTransitionTime], ['True', T1]);
});

test('a new generation is written even when the verdict is the same', () => {
  const services = new Set(['bookinfo/reviews', 'bookinfo/reviews-v1']);
  const first = routeStatus(route(), services, T0)!;
  const r = route({ status: first, metadata: { name: 'reviews', namespace: 'bookinfo', generation: 4 } });
  const [accepted] = conds(routeStatus(r, services, T1));
  assert.deepEqual(
    [accepted!.lastTransitionTime, (accepted as { observedGeneration?: number }).observedGeneration],
    [T0, 4],
  );
});

test("other controllers' parent entries are kept", () => {
  const theirs = { parentRef: { name: 'gw' }, controllerName: 'example.com/other', conditions: [] };
  const s = routeStatus(route({ status: { parents: [theirs] } }), new Set(['bookinfo/reviews']), T0)!;
  const parents = s.parents as Array<{ controllerName: string }>;
  assert.deepEqual(
    parents.map((p) => p.controllerName),
    ['example.com/other', ROUTE_CONTROLLER],
  );
  assert.deepEqual(parents[0], theirs);
});

test('entries for a Gateway parent are left alone; one for a removed Service parentRef is dropped', () => {
  const gw = { parentRef: { name: 'ingress' }, controllerName: ROUTE_CONTROLLER, conditions: [] };
  const removed = {
    parentRef: { kind: 'Service', name: 'old' },
    controllerName: ROUTE_CONTROLLER,
    conditions: [],
  };
  const s = routeStatus(route({ status: { parents: [gw, removed] } }), new Set(['bookinfo/reviews']), T0)!;
  const parents = s.parents as Array<{ parentRef: { name: string } }>;
  assert.deepEqual(
    parents.map((p) => p.parentRef.name),
    ['ingress', 'reviews'],
  );
});

test('routes without a Service parentRef get no status; non-Service backends are not looked up', () => {
  const gatewayRoute = route({ spec: { parentRefs: [{ name: 'gw' }], rules: [] } });
  assert.equal(routeStatus(gatewayRoute, new Set(), T0), undefined);
  const r = route({
    spec: {
      parentRefs: [{ kind: 'Service', name: 'reviews' }],
      rules: [
        {
          backendRefs: [
            { group: 'example.com', kind: 'Bucket', name: 'b' },
            { name: 'other', namespace: 'ns2' },
          ],
        },
      ],
    },
  });
  const [, resolved] = conds(routeStatus(r, new Set(['bookinfo/reviews']), T0));
  assert.equal(resolved!.message, 'backend(s) not found: ns2/other');
});

test('without a generation (files) no observedGeneration; serviceKeys defaults the namespace', () => {
  const r = route({ metadata: { name: 'reviews' } });
  const services = serviceKeys([
    { kind: 'Service', metadata: { name: 'reviews' } },
    { kind: 'Deployment', metadata: { name: 'reviews-v1' } },
  ]);
  assert.deepEqual([...services], ['default/reviews']);
  const [accepted] = conds(routeStatus(r, services, T0));
  assert.equal(accepted!.status, 'True');
  assert.equal('observedGeneration' in accepted!, false);
});
