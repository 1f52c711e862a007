import { parsers, type ConfigOf } from '../common/config.js';
import { CA_CLIENT_OPTIONS } from '../common/ca-options.js';
import { L7_PROXY_MESH_OPTIONS, L7_PROXY_STATUS_OPTIONS } from '../waypoint/config.js';

/**
 * The sidecar's options: each has a flag, an environment variable and a default; `sidecar --help`
 * prints them. The sidecar runs inside its pod's network namespace (the `istio-proxy` container).
 */
export const sidecarSchema = {
  podName: { flag: 'pod-name', env: 'POD_NAME', doc: 'this pod', default: '', parse: parsers.string },
  namespace: {
    flag: 'namespace',
    env: 'POD_NAMESPACE',
    doc: 'its namespace',
    default: 'default',
    parse: parsers.string,
  },
  podIp: { flag: 'pod-ip', env: 'INSTANCE_IP', doc: 'this pod IP', default: '', parse: parsers.string },
  serviceAccount: {
    flag: 'service-account',
    env: 'SERVICE_ACCOUNT',
    doc: 'the pod identity: spiffe://<td>/ns/<namespace>/sa/<this>',
    default: 'default',
    parse: parsers.string,
  },
  workload: {
    flag: 'workload',
    env: 'WORKLOAD_NAME',
    doc: 'the owning workload (telemetry, baggage); empty: the pod name',
    default: '',
    parse: parsers.string,
  },
  app: { flag: 'app', env: 'APP', doc: 'canonical service (telemetry)', default: '', parse: parsers.string },
  version: {
    flag: 'version',
    env: 'VERSION',
    doc: 'canonical revision (telemetry)',
    default: '',
    parse: parsers.string,
  },
  ...L7_PROXY_MESH_OPTIONS,
  ...CA_CLIENT_OPTIONS,
  outboundPort: {
    flag: 'outbound-port',
    env: 'OUTBOUND_PORT',
    doc: 'captured outbound TCP (Istio: 15001)',
    default: 15001,
    parse: parsers.port,
  },
  inboundPort: {
    flag: 'inbound-port',
    env: 'INBOUND_PORT',
    doc: 'captured inbound plaintext TCP (Istio: 15006)',
    default: 15006,
    parse: parsers.port,
  },
  hbonePort: {
    flag: 'hbone-port',
    env: 'HBONE_PORT',
    doc: 'inbound HBONE (Istio: 15008)',
    default: 15008,
    parse: parsers.port,
  },
  ...L7_PROXY_STATUS_OPTIONS,
};

export type SidecarConfig = ConfigOf<typeof sidecarSchema>;
