import { parsers, type ConfigOf } from '../common/config.js';
import { CA_CLIENT_OPTIONS } from '../common/ca-options.js';

/**
 * ztunnel's options: every one has a flag, an environment variable (Istio's name where Istio has
 * one) and a default. `ztunnel --help` prints this table.
 */
export const ztunnelSchema = {
  nodeName: {
    flag: 'node-name',
    env: 'NODE_NAME',
    doc: 'the node this ztunnel serves (pods with this spec.nodeName)',
    default: '',
    parse: parsers.string,
  },
  nodeIp: {
    flag: 'node-ip',
    env: 'INSTANCE_IP',
    doc: "this node's IP: node-level listeners bind here",
    default: '127.0.0.1',
    parse: parsers.string,
  },
  podName: {
    flag: 'pod-name',
    env: 'POD_NAME',
    doc: "ztunnel's own pod name (for the xDS node id); empty: ztunnel-<node name>",
    default: '',
    parse: parsers.string,
  },
  podNamespace: {
    flag: 'pod-namespace',
    env: 'POD_NAMESPACE',
    doc: "ztunnel's own namespace",
    default: 'istio-system',
    parse: parsers.string,
  },
  xdsAddress: {
    flag: 'xds-address',
    env: 'XDS_ADDRESS',
    doc: 'istiod delta xDS address (empty: no control plane, use --state-file)',
    default: '127.0.0.1:15010',
    parse: parsers.string,
  },
  secureXdsAddress: {
    flag: 'secure-xds-address',
    env: 'SECURE_XDS_ADDRESS',
    doc: "istiod's mTLS xDS address (15012): once ztunnel holds its own certificate (from the CA over --ca-address/--xds-address), xDS moves there",
    default: '',
    parse: parsers.string,
  },
  ...CA_CLIENT_OPTIONS,
  stateFile: {
    flag: 'state-file',
    env: 'LOCAL_XDS_PATH',
    doc: 'read workloads/services/policies from this YAML file instead of istiod',
    default: '',
    parse: parsers.string,
  },
  caDir: {
    flag: 'local-ca-dir',
    env: 'LOCAL_CA_DIR',
    doc: 'sign workload certificates locally with the CA in this directory (ca-cert.pem, ca-key.pem, root-cert.pem); for running without istiod',
    default: '',
    parse: parsers.string,
  },
  trustDomain: {
    flag: 'trust-domain',
    env: 'TRUST_DOMAIN',
    doc: 'trust domain of the mesh',
    default: 'cluster.local',
    parse: parsers.string,
  },
  clusterId: {
    flag: 'cluster-id',
    env: 'CLUSTER_ID',
    doc: 'cluster id',
    default: 'Kubernetes',
    parse: parsers.string,
  },
  network: {
    flag: 'network',
    env: 'NETWORK',
    doc: 'network of this node',
    default: '',
    parse: parsers.string,
  },
  mode: {
    flag: 'mode',
    env: 'ZTUNNEL_MODE',
    doc: 'loopback: per-pod listeners on the pod IPs in this namespace; capture: per-pod listeners inside pod network namespaces (the node agent hands them over)',
    default: 'loopback' as 'loopback' | 'capture',
    parse: parsers.oneOf('loopback', 'capture'),
  },
  captureSocket: {
    flag: 'capture-socket',
    env: 'ZTUNNEL_CAPTURE_SOCKET',
    doc: 'capture mode: unix socket the node agent connects to',
    default: '',
    parse: parsers.string,
  },
  hbonePort: { flag: 'hbone-port', doc: 'inbound HBONE port (per pod)', default: 15008, parse: parsers.port },
  inboundPlaintextPort: {
    flag: 'inbound-plaintext-port',
    doc: 'inbound plaintext port (per pod)',
    default: 15006,
    parse: parsers.port,
  },
  outboundPort: {
    flag: 'outbound-port',
    doc: 'outbound capture port (per pod)',
    default: 15001,
    parse: parsers.port,
  },
  socks5Port: {
    flag: 'socks5-port',
    doc: 'SOCKS5 port on the node IP (0: off)',
    default: 15080,
    parse: parsers.port,
  },
  dnsPort: {
    flag: 'dns-port',
    doc: 'DNS proxy port on the node IP (0: off)',
    default: 15053,
    parse: parsers.port,
  },
  adminPort: {
    flag: 'admin-port',
    doc: 'admin port (/config_dump, /logging, /quitquitquit)',
    default: 15000,
    parse: parsers.port,
  },
  metricsPort: {
    flag: 'metrics-port',
    doc: 'Prometheus metrics port (/metrics)',
    default: 15020,
    parse: parsers.port,
  },
  readinessPort: {
    flag: 'readiness-port',
    doc: 'readiness port (/healthz/ready)',
    default: 15021,
    parse: parsers.port,
  },
  adminAddress: {
    flag: 'admin-address',
    doc: 'address the admin port binds (admin stays local)',
    default: '127.0.0.1',
    parse: parsers.string,
  },
  drainDeadline: {
    flag: 'drain-deadline',
    env: 'TERMINATION_GRACE_PERIOD',
    doc: 'on SIGTERM, let connections finish for this long',
    default: 5_000,
    parse: parsers.duration,
  },
  memoryTrimInterval: {
    flag: 'memory-trim-interval',
    env: 'MEMORY_TRIM_INTERVAL',
    doc: 'this often, when the resident size grew 8 MB over its low mark, collect garbage and return freed C heap memory to the kernel (malloc_trim; 0: never)',
    default: 10_000,
    parse: parsers.duration,
  },
  workers: {
    flag: 'workers',
    env: 'ZTUNNEL_WORKERS',
    doc: 'worker processes (node:cluster), each a full ztunnel sharing the listeners; 0: one per core beyond the first, 1: a single process',
    default: 0,
    parse: parsers.int(0, 64),
  },
  hboneImpl: {
    flag: 'hbone-impl',
    env: 'HBONE_IMPL',
    doc: "HTTP/2 implementation carrying HBONE: node (node:http2) or own (meshlite's framer, docs/hbone.md)",
    default: 'node' as 'node' | 'own',
    parse: parsers.oneOf('node', 'own'),
  },
  logLevel: {
    flag: 'log-level',
    env: 'LOG_LEVEL',
    doc: 'log level',
    default: 'info',
    parse: parsers.oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  },
};

export type ZtunnelConfig = ConfigOf<typeof ztunnelSchema>;
