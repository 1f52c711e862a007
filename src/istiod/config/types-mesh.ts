/**
 * Istio and Gateway API object shapes the mesh reads, with the upstream field names.
 */
import type { LabelSelector, Labels, ObjectMeta } from './types-core.js';

export interface ServiceEntryPort {
  number: number;
  protocol?: string;
  name?: string;
  targetPort?: number;
}

export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Labels;
  network?: string;
  locality?: string;
  weight?: number;
  serviceAccount?: string;
}

export interface ServiceEntry {
  /** networking.istio.io/v1, v1beta1 or v1alpha3. */
  apiVersion: string;
  kind: 'ServiceEntry';
  metadata: ObjectMeta;
  spec: {
    hosts: string[];
    addresses?: string[];
    ports?: ServiceEntryPort[];
    location?: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
    resolution?: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
    endpoints?: WorkloadEntrySpec[];
    workloadSelector?: { labels?: Labels };
    exportTo?: string[];
    subjectAltNames?: string[];
  };
}

export interface GatewayListener {
  name: string;
  hostname?: string;
  port: number;
  protocol: string;
  /** HTTPS and TLS listeners: how TLS is handled and the certificates served. */
  tls?: { mode?: string; certificateRefs?: GatewayCertificateRef[] };
  allowedRoutes?: Record<string, unknown>;
}

/** A listener's certificate: a core Secret by default. */
export interface GatewayCertificateRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

/** gateway.networking.k8s.io Gateway (v1 or v1beta1); waypoints use class `istio-waypoint`. */
export interface Gateway {
  apiVersion: string;
  kind: 'Gateway';
  metadata: ObjectMeta;
  spec: {
    gatewayClassName: string;
    listeners: GatewayListener[];
    addresses?: { type?: string; value: string }[];
  };
  status?: Record<string, unknown>;
}

export interface IstioGatewayServer {
  port: { number: number; name: string; protocol: string; targetPort?: number };
  /** `host`, `ns/host`, `*` or `./host` (the Gateway's namespace); `*` for the host part matches any. */
  hosts: string[];
  name?: string;
  bind?: string;
  tls?: Record<string, unknown>;
}

/**
 * networking.istio.io Gateway (v1, v1beta1 or v1alpha3), "classic" ingress: its `selector` picks the
 * gateway pods (`istio: ingressgateway`); VirtualServices bind to it through `gateways`.
 */
export interface IstioGateway {
  apiVersion: string;
  kind: 'Gateway';
  metadata: ObjectMeta;
  spec: {
    selector?: Labels;
    servers: IstioGatewayServer[];
  };
}

export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface AuthorizationSource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
}

export interface AuthorizationOperation {
  hosts?: string[];
  notHosts?: string[];
  /** Port numbers as strings, as in Istio's API (numbers given in YAML are turned into strings). */
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthorizationCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthorizationRule {
  from?: { source?: AuthorizationSource }[];
  to?: { operation?: AuthorizationOperation }[];
  when?: AuthorizationCondition[];
}

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface AuthorizationPolicy {
  /** security.istio.io/v1 or v1beta1. */
  apiVersion: string;
  kind: 'AuthorizationPolicy';
  metadata: ObjectMeta;
  spec: {
    selector?: LabelSelector;
    targetRef?: PolicyTargetReference;
    targetRefs?: PolicyTargetReference[];
    /** Defaults to ALLOW. */
    action?: AuthorizationAction;
    provider?: { name: string };
    rules?: AuthorizationRule[];
  };
}

export type MutualTlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface PeerAuthentication {
  /** security.istio.io/v1 or v1beta1. */
  apiVersion: string;
  kind: 'PeerAuthentication';
  metadata: ObjectMeta;
  spec: {
    selector?: LabelSelector;
    mtls?: { mode?: MutualTlsMode };
    /** Keyed by port number (as a string, as YAML map keys are). */
    portLevelMtls?: Record<string, { mode?: MutualTlsMode }>;
  };
}
