/**
 * TypeScript views of istio.workload messages, with protobufjs's camelCase field names. Every field is
 * optional: an absent field means the proto3 default. Bytes are raw (IP addresses are 4 or 16 bytes).
 * Enum values are the wire numbers.
 */

export const TunnelProtocol = { NONE: 0, HBONE: 1, LEGACY_ISTIO_MTLS: 2 } as const;
export type TunnelProtocol = (typeof TunnelProtocol)[keyof typeof TunnelProtocol];

export const WorkloadType = { DEPLOYMENT: 0, CRONJOB: 1, POD: 2, JOB: 3 } as const;
export type WorkloadType = (typeof WorkloadType)[keyof typeof WorkloadType];

export const WorkloadStatus = { HEALTHY: 0, UNHEALTHY: 1 } as const;
export type WorkloadStatus = (typeof WorkloadStatus)[keyof typeof WorkloadStatus];

export const NetworkMode = { STANDARD: 0, HOST_NETWORK: 1 } as const;
export type NetworkMode = (typeof NetworkMode)[keyof typeof NetworkMode];

export const IPFamilies = { AUTOMATIC: 0, IPV4_ONLY: 1, IPV6_ONLY: 2, DUAL: 3 } as const;
export type IPFamilies = (typeof IPFamilies)[keyof typeof IPFamilies];

export const AppProtocol = { UNKNOWN: 0, HTTP11: 1, HTTP2: 2, GRPC: 3, TCP: 4, TLS: 5 } as const;
export type AppProtocol = (typeof AppProtocol)[keyof typeof AppProtocol];

export const LoadBalancingScope = {
  UNSPECIFIED_SCOPE: 0,
  REGION: 1,
  ZONE: 2,
  SUBZONE: 3,
  NODE: 4,
  CLUSTER: 5,
  NETWORK: 6,
} as const;
export type LoadBalancingScope = (typeof LoadBalancingScope)[keyof typeof LoadBalancingScope];

export const LoadBalancingMode = { UNSPECIFIED_MODE: 0, STRICT: 1, FAILOVER: 2, PASSTHROUGH: 3 } as const;
export type LoadBalancingMode = (typeof LoadBalancingMode)[keyof typeof LoadBalancingMode];

export const HealthPolicy = { ONLY_HEALTHY: 0, ALLOW_ALL: 1 } as const;
export type HealthPolicy = (typeof HealthPolicy)[keyof typeof HealthPolicy];

export const ApplicationTunnelProtocol = { NONE: 0, PROXY: 1 } as const;
export type ApplicationTunnelProtocol =
  (typeof ApplicationTunnelProtocol)[keyof typeof ApplicationTunnelProtocol];

/** One xDS resource of type istio.workload.Address: exactly one of the two is set. */
export interface Address {
  workload?: Workload;
  service?: Service;
}

export interface NetworkAddress {
  network?: string;
  address?: Uint8Array;
  /** CIDR prefix length, when the address is a range. */
  length?: number;
}

export interface NamespacedHostname {
  namespace?: string;
  hostname?: string;
}

/** One of hostname / address. */
export interface GatewayAddress {
  hostname?: NamespacedHostname;
  address?: NetworkAddress;
  hboneMtlsPort?: number;
}

export interface Port {
  servicePort?: number;
  targetPort?: number;
  appProtocol?: AppProtocol;
}

export interface PortList {
  ports?: Port[];
}

export interface LoadBalancing {
  routingPreference?: LoadBalancingScope[];
  mode?: LoadBalancingMode;
  healthPolicy?: HealthPolicy;
}

export interface Locality {
  region?: string;
  zone?: string;
  subzone?: string;
}

export interface ApplicationTunnel {
  protocol?: ApplicationTunnelProtocol;
  port?: number;
}

export interface Extension {
  name?: string;
  config?: { typeUrl?: string; value?: Uint8Array };
}

export interface Service {
  name?: string;
  namespace?: string;
  hostname?: string;
  addresses?: NetworkAddress[];
  ports?: Port[];
  subjectAltNames?: string[];
  waypoint?: GatewayAddress;
  loadBalancing?: LoadBalancing;
  ipFamilies?: IPFamilies;
  extensions?: Extension[];
  canonical?: boolean;
  ingressUseWaypoint?: boolean;
}

export interface Workload {
  uid?: string;
  name?: string;
  namespace?: string;
  addresses?: Uint8Array[];
  hostname?: string;
  network?: string;
  tunnelProtocol?: TunnelProtocol;
  trustDomain?: string;
  serviceAccount?: string;
  waypoint?: GatewayAddress;
  networkGateway?: GatewayAddress;
  node?: string;
  canonicalName?: string;
  canonicalRevision?: string;
  workloadType?: WorkloadType;
  workloadName?: string;
  nativeTunnel?: boolean;
  applicationTunnel?: ApplicationTunnel;
  /** Key: `<namespace>/<hostname>` of a service this workload backs. */
  services?: Record<string, PortList>;
  /** `<namespace>/<name>` of selector-based policies. */
  authorizationPolicies?: string[];
  status?: WorkloadStatus;
  clusterId?: string;
  locality?: Locality;
  networkMode?: NetworkMode;
  extensions?: Extension[];
  /** google.protobuf.UInt32Value; unset means 1. */
  capacity?: { value?: number };
}
