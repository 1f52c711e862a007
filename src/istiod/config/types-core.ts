/**
 * Kubernetes object shapes the mesh reads, with Kubernetes' own field names. Only the fields the mesh
 * uses are typed; an object may carry more (they are kept as given).
 */

export type Labels = Record<string, string>;

export interface ObjectMeta {
  name: string;
  /** Set for namespaced kinds (defaults to `default` when omitted); absent for Namespace. */
  namespace?: string;
  labels?: Labels;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  /** RFC 3339 time, e.g. `2026-01-02T03:04:05Z`. */
  creationTimestamp?: string;
}

export interface LabelSelector {
  matchLabels?: Labels;
}

export interface Namespace {
  apiVersion: 'v1';
  kind: 'Namespace';
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: { phase?: string };
}

/**
 * A Secret. The mesh reads TLS ones (`kubernetes.io/tls`, or any type with `tls.crt`/`tls.key` or
 * `cert`/`key`): the certificates an ingress gateway serves. `data` values are base64, as in
 * Kubernetes; `stringData` (plain text) is merged over them on read.
 */
export interface Secret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: ObjectMeta;
  type?: string;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: ContainerPort[];
}

export interface PodSpec {
  nodeName?: string;
  serviceAccountName?: string;
  hostNetwork?: boolean;
  containers: Container[];
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
}

export interface PodStatus {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
  conditions?: PodCondition[];
}

export interface Pod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: PodStatus;
}

export interface ServicePort {
  name?: string;
  port: number;
  /** A port number or the name of a container port. */
  targetPort?: number | string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface ServiceSpec {
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  selector?: Labels;
  /** An IP, or `None` for a headless service. */
  clusterIP?: string;
  clusterIPs?: string[];
  ports?: ServicePort[];
}

export interface Service {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: ServiceSpec;
  status?: Record<string, unknown>;
}

export interface EndpointSliceEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  nodeName?: string;
  zone?: string;
  /** v1beta1's topology labels other than the node and zone. */
  deprecatedTopology?: Record<string, string>;
  targetRef?: { kind?: string; name?: string; namespace?: string; uid?: string };
}

export interface EndpointSlicePort {
  name?: string;
  port?: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

/** discovery.k8s.io/v1 (v1beta1 is read into this shape); the owning Service is in label `kubernetes.io/service-name`. */
export interface EndpointSlice {
  apiVersion: 'discovery.k8s.io/v1';
  kind: 'EndpointSlice';
  metadata: ObjectMeta;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  endpoints: EndpointSliceEndpoint[];
  ports?: EndpointSlicePort[];
}

export interface PodTemplateSpec {
  metadata?: { labels?: Labels; annotations?: Record<string, string> };
  spec: PodSpec;
}

export interface Deployment {
  apiVersion: 'apps/v1';
  kind: 'Deployment';
  metadata: ObjectMeta;
  spec: {
    /** Defaults to 1. */
    replicas?: number;
    selector: LabelSelector;
    template: PodTemplateSpec;
  };
  status?: Record<string, unknown>;
}
