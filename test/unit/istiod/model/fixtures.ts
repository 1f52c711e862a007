import { AmbientIndex } from '../../../../src/istiod/model/ambient-index.js';
import type {
  AuthorizationPolicyObj,
  GatewayObj,
  NamespaceObj,
  PeerAuthenticationObj,
  PodObj,
  ServiceObj,
} from '../../../../src/istiod/model/inputs.js';
import type { Workload, Service } from '../../../../src/xds/workload-types.js';

export function ns(name: string, labels: Record<string, string> = {}): NamespaceObj {
  return { kind: 'Namespace', metadata: { name, labels } };
}

export interface PodOpts {
  ns?: string;
  ip?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  sa?: string;
  node?: string;
  ready?: boolean;
  hostNetwork?: boolean;
  containers?: PodObj['spec'] extends infer S ? (S extends { containers?: infer C } ? C : never) : never;
}

export function pod(name: string, o: PodOpts = {}): PodObj {
  return {
    kind: 'Pod',
    metadata: { name, namespace: o.ns ?? 'app', labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: {
      nodeName: o.node ?? 'node1',
      serviceAccountName: o.sa,
      hostNetwork: o.hostNetwork,
      containers: o.containers ?? [{ name: 'main', ports: [{ name: 'http', containerPort: 8080 }] }],
    },
    status: {
      podIP: o.ip ?? '10.0.0.1',
      phase: 'Running',
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

export function svc(
  name: string,
  selector: Record<string, string>,
  o: {
    ns?: string;
    ip?: string;
    labels?: Record<string, string>;
    ports?: NonNullable<ServiceObj['spec']>['ports'];
  } = {},
): ServiceObj {
  return {
    kind: 'Service',
    metadata: { name, namespace: o.ns ?? 'app', labels: o.labels ?? {} },
    spec: {
      selector,
      clusterIP: o.ip ?? '10.96.0.10',
      ports: o.ports ?? [{ name: 'http', port: 80, targetPort: 8080 }],
    },
  };
}

export function waypoint(
  name: string,
  o: { ns?: string; for?: string; withService?: boolean } = {},
): GatewayObj {
  return {
    kind: 'Gateway',
    metadata: { name, namespace: o.ns ?? 'app', labels: o.for ? { 'istio.io/waypoint-for': o.for } : {} },
    spec: {
      gatewayClassName: 'istio-waypoint',
      listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
    },
    status: { addresses: [{ type: 'IPAddress', value: '10.96.9.9' }] },
  };
}

export function authz(
  name: string,
  spec: NonNullable<AuthorizationPolicyObj['spec']>,
  namespace = 'app',
): AuthorizationPolicyObj {
  return { kind: 'AuthorizationPolicy', metadata: { name, namespace }, spec };
}

export function peerAuthn(
  name: string,
  spec: NonNullable<PeerAuthenticationObj['spec']>,
  namespace = 'app',
  created = '2024-01-01T00:00:00Z',
): PeerAuthenticationObj {
  return { kind: 'PeerAuthentication', metadata: { name, namespace, creationTimestamp: created }, spec };
}

export const uid = (name: string, namespace = 'app'): string => `Kubernetes//Pod/${namespace}/${name}`;

export function workload(index: AmbientIndex, name: string, namespace = 'app'): Workload {
  const w = index.getAddress(uid(name, namespace))?.workload;
  if (!w) throw new Error(`no workload ${namespace}/${name}`);
  return w;
}

export function service(index: AmbientIndex, name: string, namespace = 'app'): Service {
  const s = index.getAddress(`${namespace}/${name}.${namespace}.svc.cluster.local`)?.service;
  if (!s) throw new Error(`no service ${namespace}/${name}`);
  return s;
}

export { AmbientIndex };
