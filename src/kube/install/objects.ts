/**
 * Small shared pieces of the rendered objects: the object type, labels, image names, the projected
 * service-account token for istiod's CA and the downward-API environment.
 */
import type { InstallValues } from './values.js';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

/** Label on everything `meshctl install` creates (what `meshctl uninstall` looks for). */
export const PART_OF = { 'app.kubernetes.io/part-of': 'meshlite' };

export type Component = 'istiod' | 'ztunnel' | 'waypoint' | 'gateway' | 'sidecar' | 'node-agent';

export function image(v: InstallValues, c: Component): string {
  return `${v.images.hub}/${c}:${v.images.tag}`;
}

/** The token ztunnel and waypoints present to the CA: audience istio-ca, 12 h, as Istio's. */
export const CA_TOKEN_VOLUME = {
  name: 'istio-token',
  projected: {
    sources: [
      { serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } },
    ],
  },
};
export const CA_TOKEN_MOUNT = { name: 'istio-token', mountPath: '/var/run/secrets/tokens', readOnly: true };
export const CA_TOKEN_FILE = '/var/run/secrets/tokens/istio-token';

export const ROOT_CERT_VOLUME = { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } };
export const ROOT_CERT_MOUNT = {
  name: 'istiod-ca-cert',
  mountPath: '/var/run/secrets/istio',
  readOnly: true,
};

const field = (name: string, path: string) => ({ name, valueFrom: { fieldRef: { fieldPath: path } } });

export const DOWNWARD_ENV = [
  field('POD_NAME', 'metadata.name'),
  field('POD_NAMESPACE', 'metadata.namespace'),
  field('NODE_NAME', 'spec.nodeName'),
  field('INSTANCE_IP', 'status.podIP'),
  field('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
];

/**
 * istiod's in-cluster addresses. The proxies' CA client bootstraps over the plaintext port (15010,
 * with the service-account token; Istio uses 15012 with the root from istio-ca-root-cert), then
 * ztunnel moves xDS to the mTLS port (15012) with its own certificate.
 */
export const ISTIOD_PLAINTEXT_ADDRESS = 'istiod.istio-system.svc:15010';
export const ISTIOD_SECURE_ADDRESS = 'istiod.istio-system.svc:15012';

/** The namespace of istiod, ztunnel and the node agent (istiod trusts istio-system/ztunnel as node proxy). */
export const NAMESPACE = 'istio-system';

/** Tolerations of the node-level DaemonSets: every taint (as Istio's ztunnel and CNI). */
export const NODE_TOLERATIONS = [
  { effect: 'NoSchedule', operator: 'Exists' },
  { key: 'CriticalAddonsOnly', operator: 'Exists' },
  { effect: 'NoExecute', operator: 'Exists' },
];
