/**
 * The environment istiod gives a proxy container it writes (an injected sidecar, a waypoint's or an
 * ingress gateway's Deployment): who the pod is (downward API), where istiod's xDS and CA are, the
 * projected token it authenticates with, and the mesh's trust domain and cluster.
 */
export interface ProxyEnvSettings {
  xdsAddress: string;
  trustDomain: string;
  clusterId: string;
}

/** Where the projected service-account token (audience istio-ca) is mounted in proxy containers. */
export const PROXY_TOKEN_FILE = '/var/run/secrets/tokens/istio-token';

const field = (name: string, path: string) => ({ name, valueFrom: { fieldRef: { fieldPath: path } } });

export function proxyEnv(s: ProxyEnvSettings) {
  return [
    field('POD_NAME', 'metadata.name'),
    field('POD_NAMESPACE', 'metadata.namespace'),
    field('INSTANCE_IP', 'status.podIP'),
    field('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    { name: 'XDS_ADDRESS', value: s.xdsAddress },
    { name: 'CA_ADDRESS', value: s.xdsAddress },
    { name: 'TOKEN_FILE', value: PROXY_TOKEN_FILE },
    { name: 'TRUST_DOMAIN', value: s.trustDomain },
    { name: 'CLUSTER_ID', value: s.clusterId },
  ];
}
