/**
 * GAMMA route status, as Istio's controller writes it on HTTPRoute and GRPCRoute: one
 * `status.parents[]` entry per Service parentRef with `controllerName: istio.io/gateway-controller` and
 * conditions `Accepted` (the parent Service exists, else NoMatchingParent) and `ResolvedRefs` (every
 * backend Service exists, else BackendNotFound naming them). Pure: the route and the known Services in,
 * the status to write out (or undefined when the current one already says it). Shared by the local
 * cluster's controller (files) and istiod's Kubernetes writer (the status subresource).
 */
import { isDeepStrictEqual } from 'node:util';
import { condition, statusTime, type Condition } from '../../common/conditions.js';

export { statusTime };

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

/** Whether this is a route kind that gets a status here. */
export function isRouteKind(kind: unknown): boolean {
  return kind === 'HTTPRoute' || kind === 'GRPCRoute';
}

/**
 * The route's status after this pass, or undefined when nothing changes (or it has no Service
 * parentRef). `services` holds `namespace/name` of every Service that exists. Entries of other
 * controllers in `status.parents` are kept; a condition's lastTransitionTime is kept while its status
 * stays the same. Entries for parents other than Services (an ingress Gateway) are left as they are.
 */
export function routeStatus(
  route: RouteObject,
  services: ReadonlySet<string>,
  now: string = statusTime(),
): Rec | undefined {
  const meta = rec(route.metadata);
  const ns = typeof meta.namespace === 'string' ? meta.namespace : 'default';
  const generation = typeof meta.generation === 'number' ? meta.generation : undefined;
  const spec = rec(route.spec);
  const refs = list(spec.parentRefs).filter((r) => isServiceRef(r, undefined));
  if (refs.length === 0) return undefined;
  const missing = [
    ...new Set(
      list(spec.rules)
        .flatMap((r) => list(r.backendRefs))
        .filter((b) => isServiceRef(b, 'Service'))
        .map((b) => `${String(b.namespace ?? ns)}/${String(b.name)}`)
        .filter((k) => !services.has(k)),
    ),
  ];
  const old = rec(route.status);
  const oldParents = list(old.parents);
  const ours = refs.map((ref): RouteParentStatus => {
    const parentNs = String(ref.namespace ?? ns);
    const found = services.has(`${parentNs}/${String(ref.name)}`);
    const prev = oldParents.find(
      (p) => p.controllerName === ROUTE_CONTROLLER && isDeepStrictEqual(p.parentRef, ref),
    );
    const prevConds = list(prev?.conditions);
    const cond = (type: RouteCondition['type'], ok: boolean, reason: string, message: string) =>
      condition(prevConds, type, ok, reason, message, now, generation) as RouteCondition;
    return {
      parentRef: ref,
      controllerName: ROUTE_CONTROLLER,
      conditions: [
        found
          ? cond('Accepted', true, 'Accepted', 'Route was valid')
          : cond('Accepted', false, 'NoMatchingParent', `Service ${parentNs}/${String(ref.name)} not found`),
        missing.length === 0
          ? cond('ResolvedRefs', true, 'ResolvedRefs', 'All references resolved')
          : cond('ResolvedRefs', false, 'BackendNotFound', `backend(s) not found: ${missing.join(', ')}`),
      ],
    };
  });
  // Kept: other controllers' entries, and ours for parents other than Services (Gateways).
  const others = oldParents.filter(
    (p) => p.controllerName !== ROUTE_CONTROLLER || !isServiceRef(rec(p.parentRef), undefined),
  );
  const status = { ...old, parents: [...others, ...ours] };
  return isDeepStrictEqual(old, status) ? undefined : status;
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
