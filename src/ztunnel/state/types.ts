/**
 * ztunnel's internal view of the mesh state. xDS wire types (src/xds/*-types.ts) are converted into
 * these at the edge (convert-*.ts) and never travel further: IPs are canonical text, enums are words,
 * defaults are filled in, and derived values used per connection (the SPIFFE URI) are computed once.
 * Every object here is immutable once built; an update replaces the whole object.
 */
import type { SpiffeId } from '../../pki/spiffe.js';
import type { Cidr } from './ip.js';

export type TunnelProtocol = 'HBONE' | 'NONE';
export type WorkloadKind = 'deployment' | 'cronjob' | 'pod' | 'job';
export type AppProtocol = 'unknown' | 'http11' | 'http2' | 'grpc' | 'tcp' | 'tls';
export type LbScope = 'region' | 'zone' | 'subzone' | 'node' | 'cluster' | 'network';
/** `standard` is the wire's UNSPECIFIED_MODE: routing preferences are not applied. */
export type LbMode = 'standard' | 'strict' | 'failover' | 'passthrough';
export type HealthPolicy = 'only-healthy' | 'allow-all';

/** The HBONE port of a waypoint or network gateway when the resource leaves it 0. */
export const DEFAULT_HBONE_PORT = 15008;

/** A waypoint or network gateway: by address, or by the namespace/hostname of a service. */
export type GatewayRef =
  | { readonly kind: 'address'; readonly network: string; readonly ip: string; readonly hbonePort: number }
  | {
      readonly kind: 'hostname';
      readonly namespace: string;
      readonly hostname: string;
      /** `<namespace>/<hostname>`, the service key. */
      readonly key: string;
      readonly hbonePort: number;
    };

export interface Locality {
  readonly region: string;
  readonly zone: string;
  readonly subzone: string;
}

export interface Workload {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  /** Canonical IP texts (may be empty: a workload reached by hostname or network gateway only). */
  readonly ips: readonly string[];
  readonly hostname: string;
  readonly network: string;
  readonly node: string;
  readonly clusterId: string;
  readonly identity: SpiffeId;
  /** `spiffe://<td>/ns/<ns>/sa/<sa>`, computed once. */
  readonly identityUri: string;
  readonly protocol: TunnelProtocol;
  readonly waypoint?: GatewayRef;
  readonly networkGateway?: GatewayRef;
  /** `<ns>/<hostname>` of each service this workload backs → service port → this workload's target port. */
  readonly services: ReadonlyMap<string, ReadonlyMap<number, number>>;
  readonly healthy: boolean;
  readonly canonicalName: string;
  readonly canonicalRevision: string;
  readonly workloadName: string;
  readonly workloadType: WorkloadKind;
  readonly locality: Locality;
  /** Load-balancing weight; 1 when the resource leaves it unset. */
  readonly capacity: number;
  /** `<ns>/<name>` of the selector-scoped policies that apply to it. */
  readonly authorizationPolicies: readonly string[];
  /** True for a workload that terminates HBONE itself (a waypoint's pods). */
  readonly nativeTunnel: boolean;
}

export interface ServicePort {
  readonly servicePort: number;
  /** 0 when the service's target is a named port: each endpoint says its own. */
  readonly targetPort: number;
  readonly appProtocol: AppProtocol;
}

export interface LoadBalancing {
  readonly routingPreference: readonly LbScope[];
  readonly mode: LbMode;
  readonly healthPolicy: HealthPolicy;
}

export interface Vip {
  readonly network: string;
  readonly ip: string;
}

export interface Service {
  readonly name: string;
  readonly namespace: string;
  readonly hostname: string;
  /** `<namespace>/<hostname>`: the key workloads use in their services map. */
  readonly key: string;
  readonly vips: readonly Vip[];
  /** By service port. */
  readonly ports: ReadonlyMap<number, ServicePort>;
  readonly subjectAltNames: readonly string[];
  readonly waypoint?: GatewayRef;
  readonly loadBalancing?: LoadBalancing;
}

export type PolicyScope = 'global' | 'namespace' | 'workload-selector';
export type PolicyAction = 'allow' | 'deny';

export type StringMatch =
  { readonly kind: 'exact' | 'prefix' | 'suffix'; readonly value: string } | { readonly kind: 'presence' };

export interface ServiceAccountMatch {
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** One match: fields AND'd, the values of a field OR'd; each not* field matches when none of its values does. */
export interface PolicyMatch {
  readonly namespaces: readonly StringMatch[];
  readonly notNamespaces: readonly StringMatch[];
  readonly principals: readonly StringMatch[];
  readonly notPrincipals: readonly StringMatch[];
  readonly serviceAccounts: readonly ServiceAccountMatch[];
  readonly notServiceAccounts: readonly ServiceAccountMatch[];
  readonly sourceIps: readonly Cidr[];
  readonly notSourceIps: readonly Cidr[];
  readonly destinationIps: readonly Cidr[];
  readonly notDestinationIps: readonly Cidr[];
  readonly destinationPorts: readonly number[];
  readonly notDestinationPorts: readonly number[];
  /** No field set at all: such a match never matches (as ztunnel). */
  readonly empty: boolean;
}

/** groups (OR) → rules (AND) → matches (OR). */
export interface Policy {
  /** `<namespace>/<name>`. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  readonly scope: PolicyScope;
  readonly action: PolicyAction;
  readonly groups: readonly (readonly (readonly PolicyMatch[])[])[];
  readonly dryRun: boolean;
}
