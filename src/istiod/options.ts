/**
 * istiod's flags and environment variables: one schema, used by `istiod --help`, by main.ts and by
 * the flags table in docs/istiod.md.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MeshError } from '../common/errors.js';
import { LOG_LEVELS } from '../common/logger.js';
import { parsers, type ConfigOf, type OptionSpec } from '../common/config.js';

type HostPort = { host: string; port: number };

const hostPort = (host: string, port: number): HostPort => ({ host, port });

export const DEFAULT_CONFIG_DIR = join(homedir(), '.meshlite', 'config');

export const istiodSchema = {
  configDir: {
    flag: 'config-dir',
    env: 'MESH_CONFIG_DIR',
    doc: 'directory of YAML configuration, watched for changes (used unless --kubeconfig or --in-cluster)',
    default: DEFAULT_CONFIG_DIR,
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  kubeconfig: {
    flag: 'kubeconfig',
    env: 'MESH_KUBECONFIG',
    doc: 'read configuration from the Kubernetes API of this kubeconfig file (its current context); KUBECONFIG alone does not switch the source',
    default: '',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  inCluster: {
    flag: 'in-cluster',
    env: 'MESH_IN_CLUSTER',
    doc: 'read configuration from the Kubernetes API with the pod service account',
    default: false,
    parse: parsers.bool,
    boolean: true,
  } satisfies OptionSpec<boolean>,
  xdsAddress: {
    flag: 'xds-address',
    env: 'XDS_ADDRESS',
    doc: 'listen address of plaintext gRPC: delta xDS (and the CA)',
    default: hostPort('0.0.0.0', 15010),
    parse: parsers.hostPort,
  } satisfies OptionSpec<HostPort>,
  monitoringAddress: {
    flag: 'monitoring-address',
    env: 'MONITORING_ADDRESS',
    doc: 'listen address of HTTP /metrics, /ready and /debug/*',
    default: hostPort('0.0.0.0', 15014),
    parse: parsers.hostPort,
  } satisfies OptionSpec<HostPort>,
  trustDomain: {
    flag: 'trust-domain',
    env: 'TRUST_DOMAIN',
    doc: 'SPIFFE trust domain of workload identities',
    default: 'cluster.local',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  clusterId: {
    flag: 'cluster-id',
    env: 'CLUSTER_ID',
    doc: 'cluster name in workload uids (<cluster>//Pod/<ns>/<name>)',
    default: 'Kubernetes',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  rootNamespace: {
    flag: 'root-namespace',
    env: 'ROOT_NAMESPACE',
    doc: 'namespace of mesh-wide policies',
    default: 'istio-system',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  debounceAfter: {
    flag: 'debounce-after',
    env: 'PILOT_DEBOUNCE_AFTER',
    doc: 'push after this long without a further change (100ms, 1s; a bare number is ms)',
    default: 100,
    parse: parsers.duration,
  } satisfies OptionSpec<number>,
  debounceMax: {
    flag: 'debounce-max',
    env: 'PILOT_DEBOUNCE_MAX',
    doc: 'push at the latest this long after the first change of a burst (a bare number is ms)',
    default: 10_000,
    parse: parsers.duration,
  } satisfies OptionSpec<number>,
  ca: {
    flag: 'ca',
    env: 'ENABLE_CA_SERVER',
    doc: 'run the certificate authority (CreateCertificate on the xDS ports)',
    default: true,
    parse: parsers.bool,
    boolean: true,
  } satisfies OptionSpec<boolean>,
  caDir: {
    flag: 'ca-dir',
    env: 'MESH_CA_DIR',
    doc: 'where the self-signed root CA is created on first start and kept (key mode 0600)',
    default: join(homedir(), '.meshlite', 'istiod', 'ca'),
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  cacertsDir: {
    flag: 'cacerts-dir',
    env: 'CACERTS_DIR',
    doc: 'plugged-in CA: an Istio cacerts directory (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem); overrides --ca-dir',
    default: '',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  caSecret: {
    flag: 'ca-secret',
    env: 'CA_SECRET',
    doc: 'reading a cluster, without --cacerts-dir: keep the self-signed CA in this Secret of istiod\'s namespace (restored on start; "" keeps it only in --ca-dir)',
    default: 'istio-ca-secret',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  nodeTokenFile: {
    flag: 'node-token-file',
    env: 'NODE_TOKEN_FILE',
    doc: 'local mode: the node bootstrap tokens file (mode 0600) that authenticates node proxies to the CA',
    default: '',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  rootCertFile: {
    flag: 'root-cert-file',
    env: 'ROOT_CERT_FILE',
    doc: 'publish the root bundle (PEM) to this file, rewritten on rotation (default: <ca-dir>/root-cert.pem)',
    default: '',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  secureXdsAddress: {
    flag: 'secure-xds-address',
    env: 'SECURE_XDS_ADDRESS',
    doc: 'listen address of mTLS gRPC (xDS and the CA), Istio 15012; port 0 picks one, "off" is not accepted: use --no-ca to run without',
    default: hostPort('0.0.0.0', 15012),
    parse: parsers.hostPort,
  } satisfies OptionSpec<HostPort>,
  workloadCertTtl: {
    flag: 'workload-cert-ttl',
    env: 'DEFAULT_WORKLOAD_CERT_TTL',
    doc: 'lifetime of workload certificates when the request asks for none',
    default: 24 * 3_600_000,
    parse: parsers.duration,
  } satisfies OptionSpec<number>,
  maxWorkloadCertTtl: {
    flag: 'max-workload-cert-ttl',
    env: 'MAX_WORKLOAD_CERT_TTL',
    doc: 'longest lifetime granted (capped at 90 days = 2160h)',
    default: 2160 * 3_600_000,
    parse: parsers.duration,
  } satisfies OptionSpec<number>,
  traceSampling: {
    flag: 'trace-sampling',
    env: 'PILOT_TRACE_SAMPLING',
    doc: 'percentage (0-100) of the traces a waypoint starts that are sampled',
    default: 1,
    parse: (raw: string, source: string): number => {
      const n = Number(raw);
      if (raw.trim() === '' || !(n >= 0 && n <= 100))
        throw new MeshError('CFG_ERR_INVALID', `${source}: "${raw}" is not a percentage in [0, 100]`);
      return n;
    },
  } satisfies OptionSpec<number>,
  waypointImage: {
    flag: 'waypoint-image',
    env: 'WAYPOINT_IMAGE',
    doc: 'reading a cluster: the image of the waypoint Deployments made for Gateways of class istio-waypoint ("" turns the waypoint controller off)',
    default: 'meshlite/waypoint:0.1.0',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  waypointResources: {
    flag: 'waypoint-resources',
    env: 'WAYPOINT_RESOURCES',
    doc: 'reading a cluster: the waypoint containers\' resources, as JSON ({"requests":{"cpu":"100m"}})',
    default: '{"requests":{"cpu":"100m","memory":"128Mi"}}',
    parse: (raw: string) => {
      try {
        const v = JSON.parse(raw) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) return raw;
      } catch {
        // reported below
      }
      throw new MeshError(
        'CFG_ERR_INVALID',
        `--waypoint-resources: "${raw}" is not a JSON object of requests/limits`,
      );
    },
  } satisfies OptionSpec<string>,
  gatewayImage: {
    flag: 'gateway-image',
    env: 'GATEWAY_IMAGE',
    doc: 'reading a cluster: the image of the ingress gateway Deployments made for Gateways of class istio ("" turns that controller off)',
    default: 'meshlite/gateway:0.1.0',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  waypointXdsAddress: {
    flag: 'waypoint-xds-address',
    env: 'WAYPOINT_XDS_ADDRESS',
    doc: "reading a cluster: istiod's address as waypoint and injected pods reach it (xDS and the CA)",
    default: 'istiod.istio-system.svc:15010',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  injectionImage: {
    flag: 'injection-image',
    env: 'INJECTION_IMAGE',
    doc: 'reading a cluster: the sidecar image the injection webhook adds to pods (istio-init and istio-proxy; "" turns the webhook off)',
    default: '',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  injectionResources: {
    flag: 'injection-resources',
    env: 'INJECTION_RESOURCES',
    doc: "reading a cluster: the injected istio-proxy containers' resources, as JSON",
    default: '{"requests":{"cpu":"100m","memory":"128Mi"}}',
    parse: (raw: string) => {
      try {
        const v = JSON.parse(raw) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) return raw;
      } catch {
        // reported below
      }
      throw new MeshError(
        'CFG_ERR_INVALID',
        `--injection-resources: "${raw}" is not a JSON object of requests/limits`,
      );
    },
  } satisfies OptionSpec<string>,
  webhookAddress: {
    flag: 'webhook-address',
    env: 'WEBHOOK_ADDRESS',
    doc: 'listen address of the HTTPS injection webhook (/inject), Istio 15017',
    default: hostPort('0.0.0.0', 15017),
    parse: parsers.hostPort,
  } satisfies OptionSpec<HostPort>,
  webhookConfigName: {
    flag: 'webhook-config-name',
    env: 'INJECTION_WEBHOOK_CONFIG_NAME',
    doc: 'the MutatingWebhookConfiguration whose caBundle istiod keeps equal to its root',
    default: 'istio-sidecar-injector',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  leaderElection: {
    flag: 'leader-election',
    env: 'LEADER_ELECTION',
    doc: 'reading a cluster: the controllers that write (waypoints, gateways, status, caBundle, root ConfigMaps) run only in the replica holding the Lease',
    default: true,
    parse: parsers.bool,
    boolean: true,
  } satisfies OptionSpec<boolean>,
  leaseName: {
    flag: 'lease-name',
    env: 'LEADER_LEASE_NAME',
    doc: 'the coordination.k8s.io Lease (in POD_NAMESPACE, else istio-system) the replicas elect the writer with',
    default: 'istio-leader',
    parse: parsers.string,
  } satisfies OptionSpec<string>,
  logLevel: {
    flag: 'log-level',
    env: 'LOG_LEVEL',
    doc: `log level: ${LOG_LEVELS.join(', ')}`,
    default: 'info' as (typeof LOG_LEVELS)[number],
    parse: parsers.oneOf(...LOG_LEVELS),
  } satisfies OptionSpec<(typeof LOG_LEVELS)[number]>,
};

export type IstiodConfig = ConfigOf<typeof istiodSchema>;

/** Where configuration comes from, as chosen by the flags. */
export type SourceChoice = { kind: 'directory'; dir: string } | { kind: 'kubernetes'; kubeconfig?: string };

export function sourceChoice(config: IstiodConfig): SourceChoice {
  if (config.inCluster && config.kubeconfig !== '') {
    throw new MeshError(
      'CFG_ERR_INVALID',
      '--in-cluster and --kubeconfig (MESH_KUBECONFIG) both given; use one of them',
    );
  }
  if (config.inCluster) return { kind: 'kubernetes' };
  if (config.kubeconfig !== '') return { kind: 'kubernetes', kubeconfig: config.kubeconfig };
  return { kind: 'directory', dir: config.configDir };
}
