/**
 * The AuthorizationPolicies and RequestAuthentications a waypoint enforces for one of its services,
 * as Istio attaches them: `targetRefs` (or `targetRef`) to the waypoint's Gateway (same namespace:
 * every service of the waypoint), to the Service (same namespace: that service), or to the
 * GatewayClass `istio-waypoint` from the root namespace (every waypoint). `selector` and namespace
 * policies are ztunnel's, never the waypoint's — except for sidecar pods, whose inbound side enforces
 * them with HTTP attributes (`forPod`). Policies are in a stable order: creation time, then name.
 */
import type { ConfigStore } from '../config/store.js';
import type {
  AuthorizationPolicy,
  Gateway,
  PolicyTargetReference,
  Pod,
  RequestAuthentication,
  Service,
} from '../config/types.js';
import { parseDuration } from '../config/duration.js';
import type { AuthzPolicy, JwtRule, ServiceSecurity } from '../../l7/security/model.js';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** A pod, or a deployment's pod template with the deployment's namespace. */
export type WorkloadRef = Pick<Pod, 'metadata'>;

type Targeted = AuthorizationPolicy | RequestAuthentication;

function refsOf(o: Targeted): PolicyTargetReference[] {
  const spec = o.spec ?? {};
  return [...(spec.targetRefs ?? []), ...(spec.targetRef ? [spec.targetRef] : [])];
}

/** Whether a policy applies to this service at this waypoint. */
export function targets(o: Targeted, gw: Gateway, svc: Service, rootNamespace: string): boolean {
  const ns = o.metadata.namespace ?? 'default';
  for (const r of refsOf(o)) {
    const group = r.group ?? '';
    if (r.namespace !== undefined && r.namespace !== ns) continue; // Istio: same namespace only
    if (r.kind === 'Gateway' && group === GATEWAY_GROUP) {
      if (r.name === gw.metadata.name && ns === (gw.metadata.namespace ?? 'default')) return true;
    } else if (r.kind === 'Service' && group === '') {
      if (r.name === svc.metadata.name && ns === (svc.metadata.namespace ?? 'default')) return true;
    } else if (r.kind === 'GatewayClass' && group === GATEWAY_GROUP) {
      if (r.name === gw.spec?.gatewayClassName && ns === rootNamespace) return true;
    }
  }
  return false;
}

function order<T extends Targeted>(list: T[]): T[] {
  return [...list].sort(
    (a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
      (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
}

export function toAuthzPolicy(ap: AuthorizationPolicy): AuthzPolicy {
  const spec = ap.spec ?? {};
  return {
    namespace: ap.metadata.namespace ?? 'default',
    name: ap.metadata.name,
    action: spec.action ?? 'ALLOW',
    dryRun: ap.metadata.annotations?.['istio.io/dry-run'] === 'true' || undefined,
    provider: spec.provider?.name,
    rules: (spec.rules ?? []) as AuthzPolicy['rules'],
  };
}

export function toJwtRules(ra: RequestAuthentication): JwtRule[] {
  const source = `RequestAuthentication ${ra.metadata.namespace ?? 'default'}/${ra.metadata.name}`;
  return (ra.spec?.jwtRules ?? []).map((r) => ({
    source,
    issuer: r.issuer,
    audiences: r.audiences,
    jwks: r.jwks,
    jwksUri: r.jwks === undefined ? r.jwksUri : undefined,
    timeoutMs: r.timeout ? parseDuration(r.timeout) : undefined,
    fromHeaders: r.fromHeaders?.map((h) => ({ name: h.name.toLowerCase(), prefix: h.prefix })),
    fromParams: r.fromParams,
    forwardOriginalToken: r.forwardOriginalToken,
    outputPayloadToHeader: r.outputPayloadToHeader,
    outputClaimToHeaders: r.outputClaimToHeaders,
  }));
}

/**
 * Whether a `selector` (or namespace-wide) policy applies to a sidecar pod, as Istio binds them to
 * sidecars: no targetRefs; in the pod's namespace or the root namespace (mesh-wide); no selector (or
 * an empty one) or one whose labels the pod carries.
 */
export function selectsPod(o: Targeted, pod: WorkloadRef, rootNamespace: string): boolean {
  if (refsOf(o).length > 0) return false;
  const ns = o.metadata.namespace ?? 'default';
  if (ns !== (pod.metadata.namespace ?? 'default') && ns !== rootNamespace) return false;
  const want = o.spec?.selector?.matchLabels ?? {};
  const labels = pod.metadata.labels ?? {};
  for (const k in want) if (labels[k] !== want[k]) return false;
  return true;
}

const HTTP_OPERATION = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
const HTTP_SOURCE = [
  'requestPrincipals',
  'notRequestPrincipals',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;
const L4_WHEN = new Set([
  'source.ip',
  'source.namespace',
  'source.principal',
  'destination.ip',
  'destination.port',
]);

/**
 * Policies as they apply to a connection with no HTTP attributes (Istio's network RBAC filter): a rule
 * naming HTTP attributes never matches in an ALLOW or AUDIT policy (it is dropped), and matches without
 * them in a DENY or CUSTOM one (it denies more, never less).
 */
export function l4Policies(policies: AuthzPolicy[]): AuthzPolicy[] {
  return policies.map((p) => {
    const strict = p.action === 'DENY' || p.action === 'CUSTOM';
    const rules: AuthzPolicy['rules'] = [];
    for (const r of p.rules) {
      const http =
        (r.to ?? []).some((t) => HTTP_OPERATION.some((f) => t.operation?.[f]?.length)) ||
        (r.from ?? []).some((x) => HTTP_SOURCE.some((f) => x.source?.[f]?.length)) ||
        (r.when ?? []).some((w) => !L4_WHEN.has(w.key));
      if (!http) rules.push(r);
      else if (strict)
        rules.push({
          ...(r.from
            ? {
                from: r.from.map((x) => ({
                  source: Object.fromEntries(
                    Object.entries(x.source ?? {}).filter(
                      ([k]) => !(HTTP_SOURCE as readonly string[]).includes(k),
                    ),
                  ),
                })),
              }
            : {}),
          ...(r.to
            ? {
                to: r.to.map((t) => ({
                  operation: Object.fromEntries(
                    Object.entries(t.operation ?? {}).filter(
                      ([k]) => !(HTTP_OPERATION as readonly string[]).includes(k),
                    ),
                  ),
                })),
              }
            : {}),
          ...(r.when ? { when: r.when.filter((w) => L4_WHEN.has(w.key)) } : {}),
        });
    }
    return { ...p, rules };
  });
}

export class SecurityIndex {
  private readonly aps: AuthorizationPolicy[];
  private readonly ras: RequestAuthentication[];
  private readonly podAps: AuthorizationPolicy[];
  private readonly podRas: RequestAuthentication[];

  constructor(
    store: ConfigStore,
    private readonly rootNamespace: string,
  ) {
    const aps = order(store.list('AuthorizationPolicy'));
    const ras = order(store.list('RequestAuthentication'));
    this.aps = aps.filter((a) => refsOf(a).length > 0);
    this.ras = ras.filter((r) => refsOf(r).length > 0);
    this.podAps = aps.filter((a) => refsOf(a).length === 0);
    this.podRas = ras.filter((r) => refsOf(r).length === 0);
  }

  /**
   * What a sidecar pod's inbound side enforces (every service port it serves): the policies bound by
   * selector or namespace (Istio binds sidecars that way, never by targetRefs); undefined when none.
   */
  forPod(pod: WorkloadRef): ServiceSecurity | undefined {
    const root = this.rootNamespace;
    const policies = this.podAps.filter((a) => selectsPod(a, pod, root)).map(toAuthzPolicy);
    const jwtRules = this.podRas.filter((r) => selectsPod(r, pod, root)).flatMap(toJwtRules);
    if (policies.length === 0 && jwtRules.length === 0) return undefined;
    return { policies, jwtRules };
  }

  /**
   * What a Gateway API ingress gateway enforces: the policies bound by selector (its pods carry
   * `gateway.networking.k8s.io/gateway-name`) or namespace, as for any proxy pod, and those whose
   * targetRefs name the Gateway itself (same namespace), as Istio attaches them to gateways.
   */
  forGateway(gw: Gateway, pod: WorkloadRef): ServiceSecurity | undefined {
    const ns = gw.metadata.namespace ?? 'default';
    const named = (o: Targeted): boolean =>
      (o.metadata.namespace ?? 'default') === ns &&
      refsOf(o).some(
        (r) =>
          r.kind === 'Gateway' &&
          (r.group ?? '') === GATEWAY_GROUP &&
          r.name === gw.metadata.name &&
          (r.namespace === undefined || r.namespace === ns),
      );
    const root = this.rootNamespace;
    const aps = order([...this.podAps.filter((a) => selectsPod(a, pod, root)), ...this.aps.filter(named)]);
    const ras = order([...this.podRas.filter((r) => selectsPod(r, pod, root)), ...this.ras.filter(named)]);
    if (aps.length === 0 && ras.length === 0) return undefined;
    return { policies: aps.map(toAuthzPolicy), jwtRules: ras.flatMap(toJwtRules) };
  }

  /** The security config of one service at one waypoint; undefined when nothing applies. */
  forService(gw: Gateway, svc: Service): ServiceSecurity | undefined {
    const policies = this.aps.filter((a) => targets(a, gw, svc, this.rootNamespace)).map(toAuthzPolicy);
    const jwtRules = this.ras.filter((r) => targets(r, gw, svc, this.rootNamespace)).flatMap(toJwtRules);
    if (policies.length === 0 && jwtRules.length === 0) return undefined;
    return { policies, jwtRules };
  }
}
