/**
 * The table of kinds the mesh reads: API group and versions, scope, the REST collection name used by
 * the Kubernetes source, and the names people type at the command line.
 */
import type { Kind } from './types.js';

export interface KindInfo {
  kind: Kind;
  /** API group, '' for the core group. */
  group: string;
  /** Accepted versions; the first is the one watched in a cluster. */
  versions: readonly string[];
  namespaced: boolean;
  /** Lower-case plural, as in REST paths and `kubectl get`. */
  plural: string;
  shortNames: readonly string[];
}

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'Namespace',
    group: '',
    versions: ['v1'],
    namespaced: false,
    plural: 'namespaces',
    shortNames: ['ns'],
  },
  { kind: 'Pod', group: '', versions: ['v1'], namespaced: true, plural: 'pods', shortNames: ['po'] },
  { kind: 'Service', group: '', versions: ['v1'], namespaced: true, plural: 'services', shortNames: ['svc'] },
  {
    kind: 'EndpointSlice',
    group: 'discovery.k8s.io',
    versions: ['v1'],
    namespaced: true,
    plural: 'endpointslices',
    shortNames: [],
  },
  {
    kind: 'Deployment',
    group: 'apps',
    versions: ['v1'],
    namespaced: true,
    plural: 'deployments',
    shortNames: ['deploy'],
  },
  {
    kind: 'ServiceEntry',
    group: 'networking.istio.io',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    namespaced: true,
    plural: 'serviceentries',
    shortNames: ['se'],
  },
  {
    kind: 'Gateway',
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'gateways',
    shortNames: ['gtw'],
  },
  {
    kind: 'HTTPRoute',
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'httproutes',
    shortNames: [],
  },
  {
    kind: 'GRPCRoute',
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1alpha2'],
    namespaced: true,
    plural: 'grpcroutes',
    shortNames: [],
  },
  {
    kind: 'VirtualService',
    group: 'networking.istio.io',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    namespaced: true,
    plural: 'virtualservices',
    shortNames: ['vs'],
  },
  {
    kind: 'DestinationRule',
    group: 'networking.istio.io',
    versions: ['v1', 'v1beta1', 'v1alpha3'],
    namespaced: true,
    plural: 'destinationrules',
    shortNames: ['dr'],
  },
  {
    kind: 'AuthorizationPolicy',
    group: 'security.istio.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'authorizationpolicies',
    shortNames: ['ap'],
  },
  {
    kind: 'RequestAuthentication',
    group: 'security.istio.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'requestauthentications',
    shortNames: ['ra'],
  },
  {
    kind: 'PeerAuthentication',
    group: 'security.istio.io',
    versions: ['v1', 'v1beta1'],
    namespaced: true,
    plural: 'peerauthentications',
    shortNames: ['pa'],
  },
];

const BY_KIND = new Map<string, KindInfo>(KINDS.map((k) => [k.kind, k]));

export function kindInfo(kind: string): KindInfo | undefined {
  return BY_KIND.get(kind);
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
export function collectionPath(info: KindInfo): string {
  const version = info.versions[0]!;
  return info.group ? `/apis/${info.group}/${version}/${info.plural}` : `/api/${version}/${info.plural}`;
}

/**
 * Resolves what a user typed (`svc`, `services`, `Service`, `authorizationpolicy`,
 * `authorizationpolicies.security.istio.io`) to a kind; undefined when nothing matches.
 */
export function resolveKindName(typed: string): KindInfo | undefined {
  const t = typed.toLowerCase();
  for (const info of KINDS) {
    const lower = info.kind.toLowerCase();
    const names = [lower, info.plural, ...info.shortNames];
    if (names.includes(t)) return info;
    if (info.group && (t === `${lower}.${info.group}` || t === `${info.plural}.${info.group}`)) return info;
  }
  return undefined;
}
