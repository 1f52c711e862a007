/** The prefix of every type URL in an Any. */
export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** ztunnel's workload and service resources. */
export const ADDRESS_TYPE_URL = 'type.googleapis.com/istio.workload.Address';
/** ztunnel's L4 authorization policies. */
export const AUTHORIZATION_TYPE_URL = 'type.googleapis.com/istio.security.Authorization';

/** meshlite's L7 proxy configuration (one resource per waypoint; proto/meshlite/l7/proxy_config.proto). */
export const PROXY_CONFIG_TYPE_URL = 'type.googleapis.com/meshlite.l7.ProxyConfig';
/**
 * Envoy's SDS secret: an ingress gateway's TLS certificates (`kubernetes://<namespace>/<secret>`),
 * served only on the mTLS port, and only to proxies of the Secret's namespace.
 */
export const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
/** The JSON schema version inside ProxyConfig. */
export const PROXY_CONFIG_SCHEMA = 1;

/** gRPC method path of the delta ADS stream. */
export const DELTA_ADS_PATH =
  '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';
/** gRPC method path of the Istio CA. */
export const CREATE_CERTIFICATE_PATH = '/istio.v1.auth.IstioCertificateService/CreateCertificate';

/** The message full name inside a type URL (`type.googleapis.com/a.b.C` -> `a.b.C`). */
export function messageNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash >= 0 ? typeUrl.slice(slash + 1) : typeUrl;
}
