/**
 * Ingress gateways of Gateway API class `istio`: one configuration per Gateway, for its deployment
 * `<name>-istio` (resource `<ns>/<name>-istio`). Each HTTP listener port serves the HTTPRoutes whose
 * parentRefs name the Gateway (and the listener, by sectionName or port), allowed by the listener's
 * `allowedRoutes` (Same by default, or All), whose hostnames intersect the listener's; the hostnames
 * become authority matches. No match: 404 (NR). Backends are reached over HBONE to each pod (the
 * waypoint is bypassed, as in Istio) unless the Service or its namespace is labelled
 * `istio.io/ingress-use-waypoint=true`: then through the service's waypoint (authority VIP:port).
 */
import { condition, statusTime, type Condition } from '../../common/conditions.js';
import type { ConfigStore } from '../config/store.js';
import type {
  Gateway,
  GatewayCertificateRef,
  GatewayListener,
  HTTPRoute,
  Secret,
  TLSRoute,
} from '../config/types.js';
import { tlsPairOf } from '../config/tls-secret.js';
import { GATEWAY_API_GROUP, ReferenceGrants } from './reference-grants.js';
import { CREDENTIAL_PREFIX, type L7Config, type RouteRule, type ServicePort } from '../../l7/model.js';
import type { ServiceSecurity } from '../../l7/security/model.js';
import { convertHttpRoutes, orderRoutes } from './convert-httproute.js';
import { MeshView, type MeshViewOptions } from './mesh-view.js';
import { SecurityIndex } from './security-configs.js';
import { waypointEndpoints, waypointOf } from './sidecar-configs.js';
import { clusterCollector, tracingOf } from './waypoint-configs.js';

export const INGRESS_CLASS = 'istio';
const NO_GRANTS = new ReferenceGrants([]);
export const INGRESS_USE_WAYPOINT = 'istio.io/ingress-use-waypoint';
/** The address the gateway's listeners hand the engine: its listeners are on every pod address. */
export const GATEWAY_LISTEN_IP = '0.0.0.0';

/** The label Gateway API puts on a gateway's pods (and selects them by). */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';

export const gatewayDeploymentName = (gw: string): string => `${gw}-istio`;

export function isIngressGateway(gw: Gateway): boolean {
  return gw.spec.gatewayClassName === INGRESS_CLASS;
}

export function buildGatewayConfigs(store: ConfigStore, opts: MeshViewOptions): Map<string, L7Config> {
  const out = new Map<string, L7Config>();
  const gateways = store.list('Gateway').filter((g) => isIngressGateway(g as never));
  if (gateways.length === 0) return out;
  const view = new MeshView(store, opts);
  const routes = store.list('HTTPRoute');
  const tlsRoutes = store.list('TLSRoute');
  const security = new SecurityIndex(store, opts.rootNamespace ?? 'istio-system');
  for (const gw of gateways) {
    const ns = gw.metadata.namespace ?? 'default';
    const name = gatewayDeploymentName(gw.metadata.name);
    const key = `${ns}/${name}`;
    const pod = { metadata: { namespace: ns, name, labels: { [GATEWAY_NAME_LABEL]: gw.metadata.name } } };
    out.set(key, buildOne(gw, key, routes, tlsRoutes, view, security.forGateway(gw, pod)));
  }
  return out;
}

function buildOne(
  gw: Gateway,
  key: string,
  all: HTTPRoute[],
  tlsRoutes: TLSRoute[],
  view: MeshView,
  security: ServiceSecurity | undefined,
): L7Config {
  const ns = gw.metadata.namespace ?? 'default';
  const c = clusterCollector(view);
  const byPort = new Map<number, ServicePort>();
  for (const plan of planListeners(gw, { secret: secretLookup(view.store), grants: view.grants })) {
    if (!plan.served) continue;
    const l = plan.listener;
    let port = byPort.get(l.port);
    if (!port) {
      const protocol = l.protocol === 'TLS' ? ('tls' as const) : ('http' as const);
      port = { port: l.port, targetPort: l.port, protocol, routes: [], defaultCluster: '' };
      byPort.set(l.port, port);
    }
    if (l.protocol === 'TLS') {
      port.sni = [...(port.sni ?? []), ...passthroughRoutes(tlsRoutes, gw, l, view, c.want)];
      continue;
    }
    if (plan.credentials.length > 0) {
      port.tls ??= { certificates: [] };
      for (const credential of plan.credentials)
        port.tls.certificates.push({ hostnames: l.hostname ? [l.hostname] : [], credential });
    }
    const rules = port.routes!;
    const attached = all.filter((r) => attaches(r, gw, l) && allowedOnListener(r, ns, l));
    // Routes grouped by their effective hostnames: specific hostnames before catch-alls.
    const groups = new Map<string, { hosts: string[]; routes: HTTPRoute[] }>();
    for (const r of attached) {
      const hosts = intersect(l.hostname, r.spec.hostnames ?? []);
      if (hosts === undefined) continue;
      const k = hosts.join(',');
      const g = groups.get(k) ?? { hosts, routes: [] };
      g.routes.push(r);
      groups.set(k, g);
    }
    const ordered = [...groups.values()].sort(
      (a, b) => Number(a.hosts.length === 0) - Number(b.hosts.length === 0),
    );
    for (const g of ordered)
      rules.push(...withHosts(convertHttpRoutes(g.routes, view, l.port, c.want), g.hosts));
  }
  return ingressConfig(key, [...byPort.values()], c.built(), view, security);
}

/**
 * The TLSRoutes a Passthrough listener takes, as SNI routes: server names (the route's hostnames met
 * with the listener's; none: any) to the backends the route may refer to (ReferenceGrant across
 * namespaces), by weight; entries with exact names before those with wildcards, older routes first.
 */
function passthroughRoutes(
  routes: TLSRoute[],
  gw: Gateway,
  l: GatewayListener,
  view: MeshView,
  want: (w: { fqdn: string; port: number }) => string,
): NonNullable<ServicePort['sni']> {
  const ns = gw.metadata.namespace ?? 'default';
  const out: NonNullable<ServicePort['sni']> = [];
  for (const r of orderRoutes(routes.filter((x) => attaches(x, gw, l) && allowedOnListener(x, ns, l)))) {
    const hosts = intersect(l.hostname, r.spec.hostnames ?? []);
    if (hosts === undefined) continue;
    const rns = r.metadata.namespace ?? 'default';
    const from = { group: GATEWAY_API_GROUP, kind: 'TLSRoute', namespace: rns };
    (r.spec.rules ?? []).forEach((rule, i) => {
      const backends = (rule.backendRefs ?? [])
        .filter(
          (x) =>
            (x.kind ?? 'Service') === 'Service' &&
            view.grants.permits(from, {
              group: x.group ?? '',
              kind: 'Service',
              namespace: x.namespace ?? rns,
              name: x.name,
            }),
        )
        .map((x) => ({
          cluster: want({ fqdn: view.resolveHost(x.name, x.namespace ?? rns), port: x.port ?? 443 }),
          weight: x.weight ?? 1,
        }));
      if (backends.length === 0) return;
      out.push({
        name: `TLSRoute/${rns}/${r.metadata.name}#${rule.name ?? i}`,
        hosts: hosts.length ? hosts : ['*'],
        cluster: backends[0]!.cluster,
        ...(backends.length > 1 ? { backends } : {}),
      });
    });
  }
  const wild = (e: { hosts: string[] }): number => Number(e.hosts.some((h) => h.startsWith('*')));
  return out.sort((a, b) => wild(a) - wild(b));
}

/** Finds a Secret by namespace and name (the configuration store's, or a cluster's). */
export type SecretLookup = (namespace: string, name: string) => Secret | undefined;

/** What a listener's certificateRefs resolve against: the Secrets, and the ReferenceGrants. */
export interface ListenerRefs {
  secret: SecretLookup;
  /** Absent: none (a Secret in another namespace is RefNotPermitted). */
  grants?: ReferenceGrants;
}

export const secretLookup =
  (store: ConfigStore): SecretLookup =>
  (ns, name) =>
    store.get('Secret', ns, name);

/** A store's Secrets and ReferenceGrants, for listener plans. */
export const listenerRefs = (store: ConfigStore): ListenerRefs => ({
  secret: secretLookup(store),
  grants: new ReferenceGrants(store.list('ReferenceGrant')),
});

/** The name of a TLS Secret as a credential resource (istiod serves it to gateways of its namespace). */
export const credentialName = (ns: string, name: string): string => `${CREDENTIAL_PREFIX}${ns}/${name}`;

/** What one listener of an ingress Gateway serves, or why not; one decision for config and status. */
export interface ListenerPlan {
  listener: GatewayListener;
  /** Served: an HTTP listener, or an HTTPS one with at least one usable certificate. */
  served: boolean;
  /** HTTPS: the credentials (`kubernetes://NS/NAME`) of its usable certificates, in order. */
  credentials: string[];
  /** Accepted=False with this reason (the protocol or TLS mode is not served). */
  unsupported?: { reason: string; message: string };
  /** ResolvedRefs=False with this reason (a certificate reference does not resolve). */
  badRefs?: { reason: string; message: string };
  /** Conflicted=True: an earlier listener holds the port for another protocol, or the same hostname. */
  conflict?: { reason: string; message: string };
}

/**
 * Each listener's plan, in order. HTTP listeners are served; HTTPS ones terminate TLS with the
 * Secrets their `tls.certificateRefs` name (core Secrets; one in another namespace needs a
 * ReferenceGrant there, else it is RefNotPermitted); any other protocol, or `tls.mode: Passthrough`,
 * is not. Of two served listeners on one port, a later one with the other protocol
 * (ProtocolConflict) or the same hostname (HostnameConflict) is not served.
 */
export function planListeners(gw: Gateway, refs: ListenerRefs): ListenerPlan[] {
  const ns = gw.metadata.namespace ?? 'default';
  const seen = new Map<number, { protocol: string; hostnames: Map<string, string> }>();
  return (gw.spec.listeners ?? []).map((l) => {
    const plan: ListenerPlan = { listener: l, served: false, credentials: [] };
    if (l.protocol === 'HTTPS') {
      const mode = l.tls?.mode ?? 'Terminate';
      if (mode !== 'Terminate') {
        plan.unsupported = {
          reason: 'UnsupportedValue',
          message: `tls.mode ${mode} is not served by this ingress gateway (HTTPS listeners terminate TLS)`,
        };
        return plan;
      }
      const problems: Array<{ reason: string; message: string }> = [];
      (l.tls?.certificateRefs ?? []).forEach((ref, i) => {
        const r = resolveCertificateRef(ref, ns, refs);
        if ('credential' in r) plan.credentials.push(r.credential);
        else problems.push({ reason: r.reason, message: `tls.certificateRefs[${i}]: ${r.message}` });
      });
      if (!l.tls?.certificateRefs?.length)
        problems.push({ reason: 'InvalidCertificateRef', message: 'tls.certificateRefs names no Secret' });
      if (problems.length > 0)
        plan.badRefs = {
          reason: problems.some((p) => p.reason === 'RefNotPermitted')
            ? 'RefNotPermitted'
            : 'InvalidCertificateRef',
          message: problems.map((p) => p.message).join('; '),
        };
      if (plan.credentials.length === 0) return plan;
    } else if (l.protocol === 'TLS') {
      const mode = l.tls?.mode ?? 'Terminate';
      if (mode !== 'Passthrough') {
        plan.unsupported = {
          reason: 'UnsupportedValue',
          message: `tls.mode ${mode} is not served on a TLS listener by this ingress gateway (Passthrough only)`,
        };
        return plan;
      }
    } else if (l.protocol !== 'HTTP') {
      plan.unsupported = {
        reason: 'UnsupportedProtocol',
        message: `protocol ${l.protocol} is not served by this ingress gateway (HTTP, HTTPS and TLS listeners only)`,
      };
      return plan;
    }
    const host = l.hostname ?? '';
    const taken = seen.get(l.port);
    if (taken && taken.protocol !== l.protocol) {
      plan.conflict = {
        reason: 'ProtocolConflict',
        message: `port ${l.port} is served as ${taken.protocol} by an earlier listener`,
      };
      return plan;
    }
    const holder = taken?.hostnames.get(host);
    if (holder !== undefined) {
      plan.conflict = {
        reason: 'HostnameConflict',
        message: `listener ${holder} serves ${host ? `hostname ${host}` : 'every hostname'} on port ${l.port} already`,
      };
      return plan;
    }
    const entry = taken ?? { protocol: l.protocol, hostnames: new Map<string, string>() };
    entry.hostnames.set(host, l.name);
    seen.set(l.port, entry);
    plan.served = true;
    return plan;
  });
}

/** One `tls.certificateRefs` entry: its credential, or why it does not resolve. */
function resolveCertificateRef(
  ref: GatewayCertificateRef,
  gwNs: string,
  refs: ListenerRefs,
): { credential: string } | { reason: string; message: string } {
  const kind = ref.kind ?? 'Secret';
  const group = ref.group ?? '';
  const refNs = ref.namespace ?? gwNs;
  if (kind !== 'Secret' || (group !== '' && group !== 'core'))
    return {
      reason: 'InvalidCertificateRef',
      message: `${group ? `${group}/` : ''}${kind} is not a core Secret`,
    };
  const from = { group: GATEWAY_API_GROUP, kind: 'Gateway', namespace: gwNs };
  if (
    !(refs.grants ?? NO_GRANTS).permits(from, { group: '', kind: 'Secret', namespace: refNs, name: ref.name })
  )
    return {
      reason: 'RefNotPermitted',
      message: `Secret ${refNs}/${ref.name} is in another namespace and no ReferenceGrant there lets Gateways of ${gwNs} refer to it`,
    };
  const s = refs.secret(refNs, ref.name);
  if (!s) return { reason: 'InvalidCertificateRef', message: `Secret ${refNs}/${ref.name} not found` };
  const { error } = tlsPairOf(s);
  if (error) return { reason: 'InvalidCertificateRef', message: `Secret ${refNs}/${ref.name} ${error}` };
  return { credential: credentialName(refNs, ref.name) };
}

/**
 * An ingress gateway deployment's configuration (`<ns>/<deployment>`): one service, the gateway
 * itself, with a port per listener; the clusters its routes name, each backend reached over HBONE to
 * its pods — or through the service's waypoint with `istio.io/ingress-use-waypoint=true` on the
 * Service or its namespace.
 */
export function ingressConfig(
  key: string,
  ports: ServicePort[],
  built: L7Config['clusters'],
  view: MeshView,
  security?: ServiceSecurity,
): L7Config {
  const clusters = built.map((cl) => {
    const svc = view.byHost.get(cl.service);
    if (!svc) return cl;
    const svcNs = svc.metadata.namespace ?? 'default';
    const nsLabels = view.store.get('Namespace', undefined, svcNs)?.metadata.labels;
    const use = (svc.metadata.labels?.[INGRESS_USE_WAYPOINT] ?? nsLabels?.[INGRESS_USE_WAYPOINT]) === 'true';
    const wp = use ? waypointOf(svc, view) : undefined;
    if (!wp) return cl;
    return { ...cl, upstream: 'downstream' as const, endpoints: waypointEndpoints(svc, view, wp, cl.port) };
  });
  const slash = key.indexOf('/');
  const ns = key.slice(0, slash);
  const name = key.slice(slash + 1);
  return {
    proxy: key,
    services: [
      {
        namespace: ns,
        name,
        hostname: `${name}.${ns}.svc.${view.opts.domainSuffix}`,
        vips: [GATEWAY_LISTEN_IP],
        ports,
        ...(security ? { security } : {}),
      },
    ],
    clusters,
    ...tracingOf(view),
  };
}

/** What attaching looks at in a route of any kind. */
type AttachingRoute = Pick<HTTPRoute, 'metadata'> & {
  spec: { parentRefs?: HTTPRoute['spec']['parentRefs'] };
};

/** The route names this Gateway (and this listener, if it names one by sectionName or port). */
function attaches(r: AttachingRoute, gw: Gateway, l: GatewayListener): boolean {
  const rns = r.metadata.namespace ?? 'default';
  return (r.spec.parentRefs ?? []).some((x) => {
    return (
      (x.kind ?? 'Gateway') === 'Gateway' &&
      (x.group ?? 'gateway.networking.k8s.io') === 'gateway.networking.k8s.io' &&
      x.name === gw.metadata.name &&
      (x.namespace ?? rns) === (gw.metadata.namespace ?? 'default') &&
      (x.sectionName === undefined || x.sectionName === l.name) &&
      (x.port === undefined || x.port === l.port)
    );
  });
}

/** `allowedRoutes.namespaces.from`: Same (default) or All (Selector is treated as Same). */
export function allowedOnListener(r: AttachingRoute, gwNs: string, l: GatewayListener): boolean {
  const from =
    (l.allowedRoutes as { namespaces?: { from?: string } } | undefined)?.namespaces?.from ?? 'Same';
  return from === 'All' || (r.metadata.namespace ?? 'default') === gwNs;
}

/** Whether hostname pattern `p` (maybe `*.x`) covers `h`. */
function covers(p: string, h: string): boolean {
  if (p === h) return true;
  if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && !h.slice(0, -p.length + 1).includes('.');
  return false;
}

/**
 * The hostnames a route serves on a listener: [] for any host; undefined when they do not intersect
 * (the route does not attach to this listener).
 */
export function intersect(listener: string | undefined, route: string[]): string[] | undefined {
  if (!listener) return route;
  if (route.length === 0) return [listener];
  const out = new Set<string>();
  for (const h of route) {
    if (covers(listener, h)) out.add(h);
    else if (covers(h, listener)) out.add(listener);
  }
  return out.size ? [...out] : undefined;
}

/** Adds an authority match for `hosts` (any port) to every match of every rule. */
export function withHosts(rules: RouteRule[], hosts: string[]): RouteRule[] {
  if (hosts.length === 0) return rules;
  const alt = hosts
    .map((h) =>
      h
        .toLowerCase()
        .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
        .replace(/^\*/, '[^.]+'),
    )
    .join('|');
  const authority = { kind: 'regex' as const, value: `(?:${alt})(?::\\d+)?` };
  return rules.map((r) => ({
    ...r,
    matches: (r.matches.length ? r.matches : [{}]).map((m) => ({ ...m, authority })),
  }));
}

/** `status.listeners[]` of a Gateway, as Gateway API defines it. */
export interface ListenerStatus {
  name: string;
  supportedKinds: Array<{ group: string; kind: string }>;
  attachedRoutes: number;
  conditions: Condition[];
}

/**
 * The listener entries of an ingress Gateway's status: per listener the route kinds it takes, how many
 * HTTPRoutes attach to it (by the rules the configuration above uses: parentRef, allowedRoutes,
 * hostnames) and its conditions, from the same plan as the configuration (`planListeners`): a served
 * listener is Accepted, and Programmed once the gateway is (`programmed`); an unsupported protocol or
 * TLS mode is Accepted=False, a certificate reference that does not resolve ResolvedRefs=False, a
 * conflict with an earlier listener Conflicted=True. `previous` is the current `status.listeners`
 * (transition times are kept while a condition holds).
 */
export function listenerStatuses(
  gw: Gateway,
  routes: ReadonlyArray<HTTPRoute | TLSRoute>,
  programmed: boolean,
  previous: unknown,
  refs: ListenerRefs,
  now: string = statusTime(),
): ListenerStatus[] {
  const ns = gw.metadata.namespace ?? 'default';
  const generation = (gw.metadata as { generation?: number }).generation;
  const prevList = Array.isArray(previous) ? (previous as Array<Record<string, unknown>>) : [];
  return planListeners(gw, refs).map((plan) => {
    const l = plan.listener;
    const prev = prevList.find((p) => p.name === l.name);
    const prevConds = Array.isArray(prev?.conditions)
      ? (prev.conditions as Array<Record<string, unknown>>)
      : [];
    const cond = (type: string, ok: boolean, reason: string, message: string) =>
      condition(prevConds, type, ok, reason, message, now, generation);
    const resolved = plan.badRefs
      ? cond('ResolvedRefs', false, plan.badRefs.reason, plan.badRefs.message)
      : cond('ResolvedRefs', true, 'ResolvedRefs', 'No errors found');
    if (plan.unsupported) {
      return {
        name: l.name,
        supportedKinds: [],
        attachedRoutes: 0,
        conditions: [
          cond('Accepted', false, plan.unsupported.reason, plan.unsupported.message),
          cond('Programmed', false, 'Invalid', plan.unsupported.message),
          resolved,
        ],
      };
    }
    // A TLS listener takes TLSRoutes; HTTP and HTTPS ones HTTPRoutes.
    const kind = l.protocol === 'TLS' ? 'TLSRoute' : 'HTTPRoute';
    const attached = routes.filter(
      (r) =>
        (r.kind ?? 'HTTPRoute') === kind &&
        attaches(r, gw, l) &&
        allowedOnListener(r, ns, l) &&
        intersect(l.hostname, r.spec.hostnames ?? []) !== undefined,
    ).length;
    const programmedCond = plan.conflict
      ? cond('Programmed', false, 'Invalid', plan.conflict.message)
      : !plan.served
        ? cond('Programmed', false, 'Invalid', plan.badRefs?.message ?? 'not served')
        : programmed
          ? cond('Programmed', true, 'Programmed', 'No errors found')
          : cond('Programmed', false, 'Pending', 'waiting for the gateway to be programmed');
    return {
      name: l.name,
      supportedKinds: [{ group: 'gateway.networking.k8s.io', kind }],
      attachedRoutes: attached,
      conditions: [
        cond('Accepted', true, 'Accepted', 'No errors found'),
        programmedCond,
        resolved,
        ...(plan.conflict ? [cond('Conflicted', true, plan.conflict.reason, plan.conflict.message)] : []),
      ],
    };
  });
}
