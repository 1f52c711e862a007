/**
 * The typed configuration objects (re-exported) and the union the sources emit.
 */
import type { Deployment, EndpointSlice, Namespace, Pod, Secret, Service } from './types-core.js';
import type {
  AuthorizationPolicy,
  Gateway,
  IstioGateway,
  PeerAuthentication,
  ServiceEntry,
} from './types-mesh.js';
import { kindIdOf } from './kinds.js';
import type { RequestAuthentication } from './types-security.js';
import type {
  DestinationRule,
  GRPCRoute,
  HTTPRoute,
  ReferenceGrant,
  TLSRoute,
  VirtualService,
} from './types-routing.js';

export type * from './types-core.js';
export type * from './types-mesh.js';
export type * from './types-routing.js';
export type * from './types-security.js';

/**
 * Every kind the mesh reads, by its id (kinds.ts: a group + kind; the kind name unless two groups
 * share it, as the two Gateways do).
 */
export interface KindMap {
  Namespace: Namespace;
  Pod: Pod;
  Service: Service;
  Secret: Secret;
  EndpointSlice: EndpointSlice;
  Deployment: Deployment;
  ServiceEntry: ServiceEntry;
  Gateway: Gateway;
  IstioGateway: IstioGateway;
  HTTPRoute: HTTPRoute;
  GRPCRoute: GRPCRoute;
  ReferenceGrant: ReferenceGrant;
  TLSRoute: TLSRoute;
  VirtualService: VirtualService;
  DestinationRule: DestinationRule;
  AuthorizationPolicy: AuthorizationPolicy;
  PeerAuthentication: PeerAuthentication;
  RequestAuthentication: RequestAuthentication;
}

export type Kind = keyof KindMap;
export type ConfigObject = KindMap[Kind];

/**
 * The store key of an object: `<kind id>/namespace/name` (namespace empty for cluster-scoped kinds),
 * e.g. `IstioGateway/bookinfo/bookinfo-gateway`, `Gateway/bookinfo/waypoint`.
 */
export function objectKey(kindId: Kind, namespace: string | undefined, name: string): string {
  return `${kindId}/${namespace ?? ''}/${name}`;
}

export function keyOf(obj: ConfigObject): string {
  return objectKey(kindIdOf(obj) ?? (obj.kind as Kind), obj.metadata.namespace, obj.metadata.name);
}

/** `AuthorizationPolicy default/deny-all`, `Namespace demo`: how messages name an object. */
export function describeObject(kind: string, namespace: string | undefined, name: string): string {
  return `${kind} ${namespace ? `${namespace}/` : ''}${name}`;
}
