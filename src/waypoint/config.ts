import { parsers, type ConfigOf } from '../common/config.js';
import { CA_CLIENT_OPTIONS } from '../common/ca-options.js';
import { ACCESS_LOG_BATCH_MS } from '../common/log-batch.js';

/** The mesh-facing options every L7 proxy (waypoint, sidecar, gateway) takes: identity domain, istiod. */
export const L7_PROXY_MESH_OPTIONS = {
  trustDomain: {
    flag: 'trust-domain',
    env: 'TRUST_DOMAIN',
    doc: 'SPIFFE trust domain',
    default: 'cluster.local',
    parse: parsers.string,
  },
  clusterId: {
    flag: 'cluster-id',
    env: 'CLUSTER_ID',
    doc: 'cluster name in metrics',
    default: 'Kubernetes',
    parse: parsers.string,
  },
  xdsAddress: {
    flag: 'xds-address',
    env: 'XDS_ADDRESS',
    doc: 'istiod delta xDS address',
    default: '127.0.0.1:15010',
    parse: parsers.string,
  },
};

/** The status, telemetry and logging options every L7 proxy (waypoint, sidecar, gateway) takes. */
export const L7_PROXY_STATUS_OPTIONS = {
  metricsPort: {
    flag: 'metrics-port',
    env: 'METRICS_PORT',
    doc: '/metrics and /stats/prometheus (0: off)',
    default: 15020,
    parse: parsers.port,
  },
  readinessPort: {
    flag: 'readiness-port',
    env: 'READINESS_PORT',
    doc: '/healthz/ready (0: off)',
    default: 15021,
    parse: parsers.port,
  },
  accessLog: {
    flag: 'access-log',
    env: 'ACCESS_LOG',
    doc: 'one log record per request',
    default: true,
    parse: parsers.bool,
    boolean: true,
  },
  logLevel: {
    flag: 'log-level',
    env: 'LOG_LEVEL',
    doc: 'fatal|error|warn|info|debug|trace',
    default: 'info',
    parse: parsers.string,
  },
};

/**
 * The waypoint's options: each has a flag, an environment variable and a default; `waypoint --help`
 * prints them. The waypoint is the Gateway `<namespace>/<name>` of class istio-waypoint.
 */
export const waypointSchema = {
  name: {
    flag: 'name',
    env: 'GATEWAY_NAME',
    doc: 'the Gateway this waypoint runs for',
    default: 'waypoint',
    parse: parsers.string,
  },
  namespace: {
    flag: 'namespace',
    env: 'POD_NAMESPACE',
    doc: 'its namespace',
    default: 'default',
    parse: parsers.string,
  },
  podName: {
    flag: 'pod-name',
    env: 'POD_NAME',
    doc: 'this pod (xDS node id); empty: <name>-0',
    default: '',
    parse: parsers.string,
  },
  podIp: {
    flag: 'pod-ip',
    env: 'INSTANCE_IP',
    doc: 'this pod IP: the HBONE listener binds here',
    default: '0.0.0.0',
    parse: parsers.string,
  },
  serviceAccount: {
    flag: 'service-account',
    env: 'SERVICE_ACCOUNT',
    doc: 'the identity (spiffe://<td>/ns/<namespace>/sa/<this>); empty: the Gateway name',
    default: '',
    parse: parsers.string,
  },
  ...L7_PROXY_MESH_OPTIONS,
  ...CA_CLIENT_OPTIONS,
  hbonePort: {
    flag: 'hbone-port',
    env: 'HBONE_PORT',
    doc: 'HBONE listener (Istio: 15008)',
    default: 15008,
    parse: parsers.port,
  },
  ...L7_PROXY_STATUS_OPTIONS,
};

/**
 * The waypoint process writes its log at most once per this many ms (lines in between wait, at most
 * this long): its access log has a line per request (see createLogger's `batchMs`).
 */
export const WAYPOINT_LOG_BATCH_MS = ACCESS_LOG_BATCH_MS;

export type WaypointConfig = ConfigOf<typeof waypointSchema>;
