/**
 * The table of kinds the mesh reads: API group and versions, scope, the REST collection name used by
 * the Kubernetes source, and the names people type at the command line. A kind is identified by its
 * group and kind together (Istio's `networking.istio.io` Gateway and Gateway API's
 * `gateway.networking.k8s.io` Gateway are different kinds); `id` is the name the code and the
 * configuration store use for that pair.
 */
import type { Kind } from './types.js';

export interface KindInfo {
  /** The store's and the code's name for this group + kind (the `kind` unless two groups share it). */
  id: Kind;
  /** `kind` as written in objects. */
  kind: string;
  /** API group, '' for the core group. */
  group: string;
  /** Accepted versions; the first is the one watched in a cluster. */
  versions: readonly string[];
  namespaced: boolean;
  /** Lower-case plural, as in REST paths and `kubectl get`. */
  plural: string;
  shortNames: readonly string[];
  /**
   * Versions watched in a cluster, newest first: the next is tried when the API server does not
   * serve one (404). Default: the first of `versions`.
   */
  watchVersions?: readonly string[];
}

export const KINDS: readonly KindInfo[] = [
  {
    id: 'Namespace',
    kind: 'Namespace',
    group: '',
    versions: ['v1'],
    namespaced: false,
    plural: 'namespaces',
    shortNames: ['ns'],
  },
  {
    id: 'Pod',
    kind: 'Pod',
    group: '',
    versions: ['v1'],
    namespaced: true,
    plural: 'pods',
    shortNames: ['po'],
  },
  {
    id: 'Service',
    kind: 'Service',
    group: '',
    versions: ['v1'],
    namespaced: true,
    plural: 'services',
    shortNames: ['svc'],
  },
  {
    id: 'Secret',
    kind: 'Secret',
    group: '',
    versions: ['v1'],
    namespaced: true,
    plural: 'secrets',
    shortNames: [],
  },
  {
    id: 'EndpointSlice',
    kind: 'EndpointSlice',
    group: 'discovery.k8s.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'endpointslices',
    shortNames: [],
    // v1 from Kubernetes 1.21; 1.17-1.20 serve only v1beta1 (read as v1, see validate-core).
    watchVersions: ['v1', 'v1beta1'],
  },
  {
    id: 'Deployment',
    kind: 'Deployment',
    group: 'apps',
    versions: ['v1'],
    namespaced: true,
    plural: 'deployments',
    shortNames: ['deploy'],
  },
  {
    id: 'ServiceEntry',
    kind: 'ServiceEntry',
    group: 'networking.istio.io',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    namespaced: true,
    plural: 'serviceentries',
    shortNames: ['se'],
  },
  {
    id: 'Gateway',
    kind: 'Gateway',
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'gateways',
    shortNames: ['gtw'],
  },
  {
    id: 'IstioGateway',
    kind: 'Gateway',
    group: 'networking.istio.io',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    namespaced: true,
    plural: 'gateways',
    shortNames: ['gw'],
  },
  {
    id: 'HTTPRoute',
    kind: 'HTTPRoute',
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'httproutes',
    shortNames: [],
  },
  {
    id: 'GRPCRoute',
    kind: 'GRPCRoute',
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1alpha2'],
    namespaced: true,
    plural: 'grpcroutes',
    shortNames: [],
  },
  {
    id: 'TLSRoute',
    kind: 'TLSRoute',
    group: 'gateway.networking.k8s.io',
    versions: ['v1alpha2', 'v1alpha3'],
    namespaced: true,
    plural: 'tlsroutes',
    shortNames: [],
    watchVersions: ['v1alpha2', 'v1alpha3'],
  },
  {
    id: 'ReferenceGrant',
    kind: 'ReferenceGrant',
    group: 'gateway.networking.k8s.io',
    versions: ['v1beta1', 'v1alpha2'],
    namespaced: true,
    plural: 'referencegrants',
    shortNames: ['refgrant'],
    watchVersions: ['v1beta1', 'v1alpha2'],
  },
  {
    id: 'VirtualService',
    kind: 'VirtualService',
    group: 'networking.istio.io',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    namespaced: true,
    plural: 'virtualservices',
    shortNames: ['vs'],
  },
  {
    id: 'DestinationRule',
    kind: 'DestinationRule',
    group: 'networking.istio.io',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    namespaced: true,
    plural: 'destinationrules',
    shortNames: ['dr'],
  },
  {
    id: 'AuthorizationPolicy',
    kind: 'AuthorizationPolicy',
    group: 'security.istio.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'authorizationpolicies',
    shortNames: ['ap'],
  },
  {
    id: 'RequestAuthentication',
    kind: 'RequestAuthentication',
    group: 'security.istio.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'requestauthentications',
    shortNames: ['ra'],
  },
  {
    id: 'PeerAuthentication',
    kind: 'PeerAuthentication',
    group: 'security.istio.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'peerauthentications',
    shortNames: ['pa'],
  },
];

const BY_ID = new Map<string, KindInfo>(KINDS.map((k) => [k.id, k]));
const BY_GROUP_KIND = new Map<string, KindInfo>(KINDS.map((k) => [`${k.group}/${k.kind}`, k]));

/** The kind of `apiVersion` (group/version, or a core version) and `kind`; undefined when not read. */
export function kindInfoFor(apiVersion: string | undefined, kind: string): KindInfo | undefined {
  return BY_GROUP_KIND.get(`${splitApiVersion(apiVersion ?? '').group}/${kind}`);
}

/** The kind of a store id (`IstioGateway`, `Gateway`, `Pod`). */
export function kindInfoById(id: string): KindInfo | undefined {
  return BY_ID.get(id);
}

/** The store id of an object's group + kind; undefined for kinds the mesh does not read. */
export function kindIdOf(o: { apiVersion?: unknown; kind?: unknown }): Kind | undefined {
  if (typeof o.kind !== 'string') return undefined;
  return kindInfoFor(typeof o.apiVersion === 'string' ? o.apiVersion : '', o.kind)?.id;
}

/** `gateways.networking.istio.io`, `services`: the qualified resource name, as kubectl prints it. */
export function resourceOf(info: KindInfo): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

/**
 * The start of an object's file name in a configuration directory (`<stem>-<namespace>-<name>.yaml`):
 * the lower-case kind, qualified by the group for a kind whose name an earlier kind of the table has
 * (`gateway.networking.istio.io-bookinfo-bookinfo-gateway.yaml` beside `gateway-bookinfo-waypoint.yaml`).
 */
export function fileStem(apiVersion: unknown, kind: unknown): string {
  const k = typeof kind === 'string' && kind ? kind : 'object';
  const info = kindInfoFor(typeof apiVersion === 'string' ? apiVersion : '', k);
  const first = KINDS.find((x) => x.kind === k);
  return info && first && info !== first ? `${k}.${info.group}`.toLowerCase() : k.toLowerCase();
}

/** Kinds that share their kind name with a kind of another group (they need the group to be named). */
export function isAmbiguous(info: KindInfo): boolean {
  return KINDS.some((k) => k !== info && k.kind === info.kind);
}

/** Splits `group/version` (or a bare core `version`). */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.lastIndexOf('/');
  return i < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

export function apiVersionOf(info: KindInfo, version = info.versions[0]!): string {
  return info.group ? `${info.group}/${version}` : version;
}

/** The cluster-wide REST collection path, e.g. `/apis/security.istio.io/v1/authorizationpolicies`. */
export function collectionPath(info: KindInfo, version = info.versions[0]!): string {
  return info.group ? `/apis/${info.group}/${version}/${info.plural}` : `/api/${version}/${info.plural}`;
}

/** The versions to try watching, in order. */
export function watchVersions(info: KindInfo): readonly string[] {
  return info.watchVersions ?? [info.versions[0]!];
}

/**
 * Resolves what a user typed (`svc`, `services`, `Service`, `authorizationpolicy`,
 * `authorizationpolicies.security.istio.io`, `gateways.networking.istio.io`, `gw`) to a kind;
 * undefined when nothing matches. A bare name two groups share (`gateway`) is the first kind in the
 * table with it, Gateway API's (`gtw`); Istio's is `gateways.networking.istio.io` or `gw`.
 */
export function resolveKindName(typed: string): KindInfo | undefined {
  const t = typed.toLowerCase();
  for (const info of KINDS) {
    const lower = info.kind.toLowerCase();
    if (info.group && (t === `${lower}.${info.group}` || t === `${info.plural}.${info.group}`)) return info;
  }
  for (const info of KINDS) {
    const lower = info.kind.toLowerCase();
    if ([lower, info.plural, ...info.shortNames].includes(t)) return info;
  }
  return undefined;
}
