/**
 * Route status, as Istio's controller writes it on HTTPRoute and GRPCRoute: one `status.parents[]`
 * entry per parentRef it serves, with `controllerName: istio.io/gateway-controller` and conditions
 * `Accepted` and `ResolvedRefs` (every backend Service exists, else BackendNotFound naming them; a
 * backend in another namespace that no ReferenceGrant there admits: RefNotPermitted).
 * - A Service parent (GAMMA): Accepted when the Service exists, else NoMatchingParent.
 * - A Gateway parent of class `istio` (ingress): Accepted when a listener takes the route, by the same
 *   rules the gateway's configuration uses (gateway-configs.ts): the ref's sectionName/port pick
 *   listeners (none: NoMatchingParent), an HTTP one whose allowedRoutes admits the route's namespace
 *   (none: NotAllowedByListeners) and whose hostname meets the route's (none:
 *   NoMatchingListenerHostname). A missing Gateway: NoMatchingParent; another class's: left alone.
 * Pure: the route and what exists in, the status to write out (or undefined when the current one
 * already says it). Shared by the local cluster's controller (files) and istiod's Kubernetes writer
 * (the status subresource).
 */
import { isDeepStrictEqual } from 'node:util';
import { condition, statusTime, type Condition } from '../../common/conditions.js';
import type { Gateway, HTTPRoute, ReferenceGrant } from '../config/types.js';
import { GATEWAY_API_GROUP, ReferenceGrants } from './reference-grants.js';
import { allowedOnListener, intersect, isIngressGateway } from './gateway-configs.js';

export { statusTime };

const NO_GRANTS = new ReferenceGrants([]);

export const ROUTE_CONTROLLER = 'istio.io/gateway-controller';

type Rec = Record<string, unknown>;

/** The fields of an HTTPRoute/GRPCRoute this reads (file YAML or an API server object). */
export interface RouteObject {
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; generation?: unknown };
  spec?: unknown;
  status?: unknown;
}

export interface RouteCondition extends Condition {
  type: 'Accepted' | 'ResolvedRefs';
}

export interface RouteParentStatus {
  parentRef: Rec;
  controllerName: string;
  conditions: RouteCondition[];
}

const rec = (v: unknown): Rec => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});
const list = (v: unknown): Rec[] => (Array.isArray(v) ? v.map(rec) : []);

/** A reference to a core Service (group "" and kind Service, the defaults for backendRefs). */
function isServiceRef(r: Rec, kindDefault: string | undefined): boolean {
  const kind = r.kind ?? kindDefault;
  return kind === 'Service' && (r.group === undefined || r.group === '');
}

/** A reference to a Gateway API Gateway (group and kind default to it in parentRefs). */
function isGatewayRef(r: Rec): boolean {
  return (
    (r.kind ?? 'Gateway') === 'Gateway' &&
    (r.group ?? 'gateway.networking.k8s.io') === 'gateway.networking.k8s.io'
  );
}

/** What routes can attach to: Services (`namespace/name`) and Gateway API Gateways by `namespace/name`. */
export interface RouteWorld {
  services: ReadonlySet<string>;
  /** When absent, Gateway parents are left as they are. */
  gateways?: ReadonlyMap<string, Gateway>;
  /** When absent, no ReferenceGrant exists: every backend in another namespace is refused. */
  grants?: ReferenceGrants;
}

/** Whether this is a route kind that gets a status here. */
export function isRouteKind(kind: unknown): boolean {
  return kind === 'HTTPRoute' || kind === 'GRPCRoute' || kind === 'TLSRoute';
}

/**
 * The route's status after this pass, or undefined when nothing changes (or it has no Service
 * parentRef). `services` holds `namespace/name` of every Service that exists. Entries of other
 * controllers in `status.parents` are kept; a condition's lastTransitionTime is kept while its status
 * stays the same. Entries for parents other than Services (an ingress Gateway) are left as they are.
 */
export function routeStatus(
  route: RouteObject,
  world: ReadonlySet<string> | RouteWorld,
  now: string = statusTime(),
): Rec | undefined {
  const { services, gateways, grants } =
    world instanceof Set
      ? { services: world, gateways: undefined, grants: undefined }
      : (world as RouteWorld);
  const meta = rec(route.metadata);
  const ns = typeof meta.namespace === 'string' ? meta.namespace : 'default';
  const generation = typeof meta.generation === 'number' ? meta.generation : undefined;
  const spec = rec(route.spec);
  // Gateway parents this controller answers for: ours (class istio) and missing ones.
  const gatewayOf = (r: Rec): Gateway | undefined =>
    gateways?.get(`${String(r.namespace ?? ns)}/${String(r.name)}`);
  const ownsGatewayRef = (r: Rec): boolean => {
    if (!gateways || !isGatewayRef(r)) return false;
    const gw = gatewayOf(r);
    return gw === undefined || isIngressGateway(gw);
  };
  const refs = list(spec.parentRefs).filter((r) => isServiceRef(r, undefined) || ownsGatewayRef(r));
  if (refs.length === 0) return undefined;
  const backends = list(spec.rules)
    .flatMap((r) => list(r.backendRefs))
    .filter((b) => isServiceRef(b, 'Service'));
  const from = { group: GATEWAY_API_GROUP, kind: String(route.kind), namespace: ns };
  const refused = [
    ...new Set(
      backends
        .filter(
          (b) =>
            !(grants ?? NO_GRANTS).permits(from, {
              group: '',
              kind: 'Service',
              namespace: String(b.namespace ?? ns),
              name: String(b.name),
            }),
        )
        .map((b) => `${String(b.namespace ?? ns)}/${String(b.name)}`),
    ),
  ];
  const missing = [
    ...new Set(
      backends.map((b) => `${String(b.namespace ?? ns)}/${String(b.name)}`).filter((k) => !services.has(k)),
    ),
  ];
  const old = rec(route.status);
  const oldParents = list(old.parents);
  const ours = refs.map((ref): RouteParentStatus => {
    const parentNs = String(ref.namespace ?? ns);
    const prev = oldParents.find(
      (p) => p.controllerName === ROUTE_CONTROLLER && isDeepStrictEqual(p.parentRef, ref),
    );
    const prevConds = list(prev?.conditions);
    const cond = (type: RouteCondition['type'], ok: boolean, reason: string, message: string) =>
      condition(prevConds, type, ok, reason, message, now, generation) as RouteCondition;
    const refusal = isServiceRef(ref, undefined)
      ? services.has(`${parentNs}/${String(ref.name)}`)
        ? undefined
        : { reason: 'NoMatchingParent', message: `Service ${parentNs}/${String(ref.name)} not found` }
      : gatewayRefusal(route as HTTPRoute, ns, ref, gatewayOf(ref));
    return {
      parentRef: ref,
      controllerName: ROUTE_CONTROLLER,
      conditions: [
        refusal === undefined
          ? cond('Accepted', true, 'Accepted', 'Route was valid')
          : cond('Accepted', false, refusal.reason, refusal.message),
        refused.length > 0
          ? cond(
              'ResolvedRefs',
              false,
              'RefNotPermitted',
              `backend(s) in another namespace without a ReferenceGrant there: ${refused.join(', ')}`,
            )
          : missing.length === 0
            ? cond('ResolvedRefs', true, 'ResolvedRefs', 'All references resolved')
            : cond('ResolvedRefs', false, 'BackendNotFound', `backend(s) not found: ${missing.join(', ')}`),
      ],
    };
  });
  // Kept: other controllers' entries, and ours for parents this pass does not answer for.
  const others = oldParents.filter(
    (p) =>
      p.controllerName !== ROUTE_CONTROLLER ||
      (!isServiceRef(rec(p.parentRef), undefined) && !ownsGatewayRef(rec(p.parentRef))),
  );
  const status = { ...old, parents: [...others, ...ours] };
  return isDeepStrictEqual(old, status) ? undefined : status;
}

/** Why a Gateway parent does not take the route (undefined: it does), by the gateway's own rules. */
function gatewayRefusal(
  route: HTTPRoute,
  routeNs: string,
  ref: Rec,
  gw: Gateway | undefined,
): { reason: string; message: string } | undefined {
  const where = `Gateway ${String(ref.namespace ?? routeNs)}/${String(ref.name)}`;
  if (!gw) return { reason: 'NoMatchingParent', message: `${where} not found` };
  const picked = (gw.spec.listeners ?? []).filter(
    (l) =>
      (ref.sectionName === undefined || ref.sectionName === l.name) &&
      (ref.port === undefined || ref.port === l.port),
  );
  if (picked.length === 0) {
    const which = [
      ref.sectionName !== undefined ? `named ${String(ref.sectionName)}` : '',
      ref.port !== undefined ? `on port ${String(ref.port)}` : '',
    ].filter(Boolean);
    return { reason: 'NoMatchingParent', message: `${where} has no listener ${which.join(' ')}`.trim() };
  }
  const kind = (route as { kind?: unknown }).kind;
  if (kind !== 'HTTPRoute' && kind !== 'TLSRoute')
    return {
      reason: 'NotAllowedByListeners',
      message: `${where}: its listeners take HTTPRoutes and TLSRoutes only`,
    };
  // HTTPRoutes attach to HTTP and HTTPS listeners, TLSRoutes to TLS (Passthrough) ones.
  const http = picked.filter((l) =>
    kind === 'TLSRoute' ? l.protocol === 'TLS' : l.protocol === 'HTTP' || l.protocol === 'HTTPS',
  );
  if (http.length === 0)
    return {
      reason: 'NotAllowedByListeners',
      message:
        kind === 'TLSRoute'
          ? `${where}: no TLS listener among those referenced`
          : `${where}: no HTTP or HTTPS listener among those referenced`,
    };
  const allowed = http.filter((l) => allowedOnListener(route, gw.metadata.namespace ?? 'default', l));
  if (allowed.length === 0)
    return {
      reason: 'NotAllowedByListeners',
      message: `${where}: its listeners do not allow routes from namespace ${routeNs} (allowedRoutes)`,
    };
  if (!allowed.some((l) => intersect(l.hostname, route.spec.hostnames ?? []) !== undefined))
    return {
      reason: 'NoMatchingListenerHostname',
      message: `${where}: no listener hostname matches the route's hostnames`,
    };
  return undefined;
}

/** Services, Gateway API Gateways and ReferenceGrants among these objects, for routeStatus. */
export function routeWorld(objects: Iterable<RouteObject & { apiVersion?: unknown }>): RouteWorld {
  const all = [...objects];
  const gateways = new Map<string, Gateway>();
  for (const o of all) {
    if (o.kind !== 'Gateway' || !String(o.apiVersion ?? '').startsWith('gateway.networking.k8s.io/'))
      continue;
    const meta = rec(o.metadata);
    gateways.set(
      `${typeof meta.namespace === 'string' ? meta.namespace : 'default'}/${String(meta.name)}`,
      o as unknown as Gateway,
    );
  }
  const grants = all.filter(
    (o) => o.kind === 'ReferenceGrant' && String(o.apiVersion ?? '').startsWith('gateway.networking.k8s.io/'),
  ) as unknown as ReferenceGrant[];
  return { services: serviceKeys(all), gateways, grants: new ReferenceGrants(grants) };
}

/** `namespace/name` of each Service among these objects (file objects default to `default`). */
export function serviceKeys(objects: Iterable<RouteObject>): Set<string> {
  const keys = new Set<string>();
  for (const o of objects) {
    if (o.kind !== 'Service') continue;
    const meta = rec(o.metadata);
    keys.add(`${typeof meta.namespace === 'string' ? meta.namespace : 'default'}/${String(meta.name)}`);
  }
  return keys;
}
