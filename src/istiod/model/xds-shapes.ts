/**
 * The resources istiod pushes to ztunnels, as plain objects in protobufjs' camelCase form (what
 * `Type.fromObject` accepts): `istio.workload.Address` and `istio.security.Authorization`.
 * Field numbers and enum values are in /work/shared/reference/istio-wire-facts.md. Enums are numbers;
 * the named const objects below give them names. Bytes are raw IP bytes (4 for v4, 16 for v6).
 */

export const TunnelProtocol = { NONE: 0, HBONE: 1, LEGACY_ISTIO_MTLS: 2 } as const;
export const WorkloadType = { DEPLOYMENT: 0, CRONJOB: 1, POD: 2, JOB: 3 } as const;
export const WorkloadStatus = { HEALTHY: 0, UNHEALTHY: 1 } as const;
export const AppProtocol = { UNKNOWN: 0, HTTP11: 1, HTTP2: 2, GRPC: 3, TCP: 4, TLS: 5 } as const;
export const AuthzScope = { GLOBAL: 0, NAMESPACE: 1, WORKLOAD_SELECTOR: 2 } as const;
export const AuthzAction = { ALLOW: 0, DENY: 1 } as const;

export interface NetworkAddress {
  network: string;
  address: Uint8Array;
  length?: number;
}

export interface NamespacedHostname {
  namespace: string;
  hostname: string;
}

export interface GatewayAddress {
  hostname?: NamespacedHostname;
  address?: NetworkAddress;
  hboneMtlsPort: number;
}

export interface Port {
  servicePort: number;
  targetPort: number;
  appProtocol?: number;
}

export interface PortList {
  ports: Port[];
}

export interface Service {
  name: string;
  namespace: string;
  hostname: string;
  addresses: NetworkAddress[];
  ports: Port[];
  subjectAltNames?: string[];
  waypoint?: GatewayAddress;
}

export interface Workload {
  uid: string;
  name: string;
  namespace: string;
  addresses: Uint8Array[];
  hostname?: string;
  network: string;
  tunnelProtocol: number;
  trustDomain: string;
  serviceAccount: string;
  waypoint?: GatewayAddress;
  node: string;
  canonicalName: string;
  canonicalRevision: string;
  workloadType: number;
  workloadName: string;
  nativeTunnel?: boolean;
  services: Record<string, PortList>;
  authorizationPolicies: string[];
  status: number;
  clusterId: string;
}

/** `istio.workload.Address`: exactly one of the two is set. */
export interface Address {
  workload?: Workload;
  service?: Service;
}

export interface StringMatch {
  exact?: string;
  prefix?: string;
  suffix?: string;
  presence?: Record<string, never>;
}

export interface IpMatch {
  address: Uint8Array;
  length: number;
}

export interface ServiceAccountMatch {
  namespace: string;
  serviceAccount: string;
}

export interface Match {
  namespaces?: StringMatch[];
  notNamespaces?: StringMatch[];
  principals?: StringMatch[];
  notPrincipals?: StringMatch[];
  sourceIps?: IpMatch[];
  notSourceIps?: IpMatch[];
  destinationIps?: IpMatch[];
  notDestinationIps?: IpMatch[];
  destinationPorts?: number[];
  notDestinationPorts?: number[];
  serviceAccounts?: ServiceAccountMatch[];
  notServiceAccounts?: ServiceAccountMatch[];
}

export interface Rules {
  matches: Match[];
}

export interface Group {
  rules: Rules[];
}

export interface Authorization {
  name: string;
  namespace: string;
  scope: number;
  action: number;
  groups: Group[];
  dryRun?: boolean;
}
