import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ROUTE_CONTROLLER,
  routeStatus,
  routeWorld,
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
  // ns2/other is in another namespace: without a ReferenceGrant there it is not permitted at all.
  assert.equal(resolved!.reason, 'RefNotPermitted');
  assert.equal(
    resolved!.message,
    'backend(s) in another namespace without a ReferenceGrant there: ns2/other',
  );
  const grant = {
    apiVersion: 'gateway.networking.k8s.io/v1beta1',
    kind: 'ReferenceGrant',
    metadata: { name: 'from-bookinfo', namespace: 'ns2' },
    spec: {
      from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'bookinfo' }],
      to: [{ group: '', kind: 'Service' }],
    },
  };
  const world = routeWorld([
    grant,
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews', namespace: 'bookinfo' } },
  ]);
  const [, granted] = conds(routeStatus(r, world, T0));
  assert.equal(granted!.message, 'backend(s) not found: ns2/other', 'granted, then looked up');
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

const gatewayRoute = (parentRefs: Array<Record<string, unknown>>, hostnames?: string[]): RouteObject => ({
  kind: 'HTTPRoute',
  metadata: { name: 'bookinfo', namespace: 'bookinfo', generation: 1 },
  spec: {
    parentRefs,
    ...(hostnames ? { hostnames } : {}),
    rules: [{ backendRefs: [{ name: 'productpage', port: 9080 }] }],
  },
});

const SHOP_TO_BOOKINFO = {
  apiVersion: 'gateway.networking.k8s.io/v1beta1',
  kind: 'ReferenceGrant',
  metadata: { name: 'shop-routes', namespace: 'bookinfo' },
  spec: {
    from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop' }],
    to: [{ group: '', kind: 'Service', name: 'productpage' }],
  },
};

const objects = (listeners: Array<Record<string, unknown>>, className = 'istio') => [
  SHOP_TO_BOOKINFO,
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'productpage', namespace: 'bookinfo' } },
  {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'bookinfo-gateway', namespace: 'bookinfo' },
    spec: { gatewayClassName: className, listeners },
  },
  // Istio's classic Gateway of the same name is another kind: not a parent here.
  {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: 'edge', namespace: 'bookinfo' },
    spec: { selector: { istio: 'ingressgateway' }, servers: [] },
  },
];

const HTTP80 = { name: 'http', port: 80, protocol: 'HTTP' };

test('an ingress Gateway parent: Accepted when a listener takes the route, else why not', () => {
  const accepted = (
    r: RouteObject,
    listeners: Array<Record<string, unknown>> = [HTTP80],
    className = 'istio',
  ) => {
    const s = routeStatus(r, routeWorld(objects(listeners, className)), T0);
    if (!s) return undefined;
    const [a, resolved] = conds(s);
    assert.equal(resolved!.status, 'True');
    return [a!.status, a!.reason, a!.message].join(' | ');
  };
  const ref = { name: 'bookinfo-gateway' };
  assert.equal(accepted(gatewayRoute([ref])), 'True | Accepted | Route was valid');
  assert.equal(
    accepted(gatewayRoute([{ name: 'no-such-gateway' }])),
    'False | NoMatchingParent | Gateway bookinfo/no-such-gateway not found',
  );
  assert.equal(
    accepted(gatewayRoute([{ ...ref, sectionName: 'https' }])),
    'False | NoMatchingParent | Gateway bookinfo/bookinfo-gateway has no listener named https',
  );
  assert.equal(
    accepted(gatewayRoute([{ ...ref, port: 8080 }])),
    'False | NoMatchingParent | Gateway bookinfo/bookinfo-gateway has no listener on port 8080',
  );
  assert.equal(
    accepted(gatewayRoute([ref]), [{ name: 'tcp', port: 80, protocol: 'TCP' }]),
    'False | NotAllowedByListeners | Gateway bookinfo/bookinfo-gateway: no HTTP or HTTPS listener among those referenced',
  );
  const fromShop = { ...gatewayRoute([{ ...ref, namespace: 'bookinfo' }]) };
  fromShop.metadata = { ...fromShop.metadata, namespace: 'shop' };
  fromShop.spec = {
    ...(fromShop.spec as object),
    rules: [{ backendRefs: [{ name: 'productpage', namespace: 'bookinfo', port: 9080 }] }],
  };
  assert.equal(
    accepted(fromShop),
    'False | NotAllowedByListeners | Gateway bookinfo/bookinfo-gateway: its listeners do not allow routes from namespace shop (allowedRoutes)',
  );
  assert.equal(
    accepted(fromShop, [{ ...HTTP80, allowedRoutes: { namespaces: { from: 'All' } } }]),
    'True | Accepted | Route was valid',
    'allowedRoutes All admits another namespace',
  );
  assert.equal(
    accepted(gatewayRoute([ref], ['shop.example.com']), [{ ...HTTP80, hostname: '*.bookinfo.example' }]),
    "False | NoMatchingListenerHostname | Gateway bookinfo/bookinfo-gateway: no listener hostname matches the route's hostnames",
  );
  assert.equal(
    accepted(gatewayRoute([ref], ['www.bookinfo.example']), [{ ...HTTP80, hostname: '*.bookinfo.example' }]),
    'True | Accepted | Route was valid',
  );
  assert.equal(
    accepted({ ...gatewayRoute([ref]), kind: 'GRPCRoute' }),
    'False | NotAllowedByListeners | Gateway bookinfo/bookinfo-gateway: its listeners take HTTPRoutes and TLSRoutes only',
    'the ingress serves HTTPRoutes',
  );
  assert.equal(
    accepted(gatewayRoute([ref]), [HTTP80], 'someone-else'),
    undefined,
    "another class's Gateway: its controller's business, nothing written",
  );
});

test('Gateway parents: other entries kept; without the Gateways known, left as they are', () => {
  const other = {
    parentRef: { name: 'bookinfo-gateway' },
    controllerName: 'example.com/other',
    conditions: [],
  };
  const r = gatewayRoute([{ name: 'bookinfo-gateway' }]);
  r.status = { parents: [other] };
  const s = routeStatus(r, routeWorld(objects([HTTP80])), T0)!;
  const parents = s.parents as Array<{ controllerName: string }>;
  assert.deepEqual(
    parents.map((p) => p.controllerName),
    ['example.com/other', ROUTE_CONTROLLER],
  );
  assert.equal(routeStatus(r, new Set(['bookinfo/productpage']), T0), undefined, 'services only');
  assert.equal(routeStatus({ ...r, status: s }, routeWorld(objects([HTTP80])), T1), undefined, 'unchanged');
});
