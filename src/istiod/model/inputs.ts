/**
 * The configuration objects the ambient index reads: minimal, structural views of the Kubernetes and
 * Istio objects, with the exact field names of their APIs. The config layer's validated objects fit
 * these shapes without conversion; fields the index does not read are simply not listed.
 */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  ownerReferences?: { kind: string; name: string; controller?: boolean }[];
}

export interface NamespaceObj {
  kind: 'Namespace';
  metadata: ObjectMeta;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface PodObj {
  kind: 'Pod';
  metadata: ObjectMeta;
  spec?: {
    nodeName?: string;
    serviceAccountName?: string;
    hostNetwork?: boolean;
    containers?: { name: string; ports?: ContainerPort[] }[];
  };
  status?: {
    podIP?: string;
    podIPs?: { ip: string }[];
    phase?: string;
    conditions?: { type: string; status: string }[];
  };
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: string;
  appProtocol?: string;
}

export interface ServiceObj {
  kind: 'Service';
  metadata: ObjectMeta;
  spec?: {
    selector?: Record<string, string>;
    clusterIP?: string;
    clusterIPs?: string[];
    ports?: ServicePort[];
    type?: string;
  };
}

export interface ServiceEntryPort {
  number: number;
  name?: string;
  protocol?: string;
  targetPort?: number;
}

export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  serviceAccount?: string;
}

export interface ServiceEntryObj {
  kind: 'ServiceEntry';
  metadata: ObjectMeta;
  spec: {
    hosts: string[];
    addresses?: string[];
    ports?: ServiceEntryPort[];
    location?: string;
    resolution?: string;
    endpoints?: WorkloadEntrySpec[];
    workloadSelector?: { labels?: Record<string, string> };
  };
}

export interface GatewayObj {
  kind: 'Gateway';
  metadata: ObjectMeta;
  spec: {
    gatewayClassName: string;
    listeners?: { name?: string; port: number; protocol: string }[];
  };
  status?: { addresses?: { type?: string; value: string }[] };
}

export interface Source {
  principals?: string[];
  notPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
}

export interface Operation {
  ports?: string[];
  notPorts?: string[];
  hosts?: string[];
  notHosts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface Condition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthzRule {
  from?: { source?: Source }[];
  to?: { operation?: Operation }[];
  when?: Condition[];
}

export interface AuthorizationPolicyObj {
  kind: 'AuthorizationPolicy';
  metadata: ObjectMeta;
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    targetRef?: { kind?: string; name?: string };
    targetRefs?: { kind?: string; name?: string }[];
    action?: string;
    rules?: AuthzRule[];
  };
}

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface PeerAuthenticationObj {
  kind: 'PeerAuthentication';
  metadata: ObjectMeta;
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    mtls?: { mode?: MtlsMode | string };
    portLevelMtls?: Record<string, { mode?: MtlsMode | string }>;
  };
}

export type ConfigObject =
  | NamespaceObj
  | PodObj
  | ServiceObj
  | ServiceEntryObj
  | GatewayObj
  | AuthorizationPolicyObj
  | PeerAuthenticationObj;

export type ConfigKind = ConfigObject['kind'];
