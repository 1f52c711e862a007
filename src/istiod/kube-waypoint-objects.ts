/**
 * What istiod's waypoint controller wants for a Gateway of class `istio-waypoint` (pure): the
 * ServiceAccount, Deployment and Service named like the Gateway and owned by it, labelled as Istio
 * labels them, and the Gateway's status (addresses and conditions) once the Service has its IP.
 */

export const WAYPOINT_CLASS = 'istio-waypoint';
export const MANAGED_LABEL = 'gateway.istio.io/managed';
export const MANAGED_VALUE = 'istio.io-mesh-controller';
export const GATEWAY_FIELD_MANAGER = 'istio.io/gateway-controller';

export interface GatewayObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec?: {
    gatewayClassName?: string;
    listeners?: Array<{ name?: string; port?: number; protocol?: string }>;
  };
  status?: { addresses?: Array<{ type?: string; value?: string }>; conditions?: Condition[] };
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface WaypointSettings {
  /** The waypoint image (values: <hub>/waypoint:<tag>). */
  image: string;
  imagePullPolicy?: string;
  /** istiod's xDS + CA address as pods reach it (istiod.istio-system.svc:15012). */
  xdsAddress: string;
  trustDomain: string;
  clusterId: string;
  domainSuffix?: string;
  resources?: Record<string, Record<string, string>>;
}

export interface KubeObj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{
      apiVersion: string;
      kind: string;
      name: string;
      uid: string;
      controller?: boolean;
    }>;
  };
  [k: string]: unknown;
}

/** Why istiod does not handle this Gateway as a waypoint, or undefined when it does. */
export function notAWaypoint(gw: GatewayObject): string | undefined {
  if (gw.spec?.gatewayClassName !== WAYPOINT_CLASS) return `class is not ${WAYPOINT_CLASS}`;
  if (gw.metadata.deletionTimestamp) return 'being deleted';
  return undefined;
}

/** The Gateway's listeners as Service ports (name, port, appProtocol lower-cased: mesh 15008 hbone). */
function listenerPorts(gw: GatewayObject) {
  const listeners = gw.spec?.listeners?.length
    ? gw.spec.listeners
    : [{ name: 'mesh', port: 15008, protocol: 'HBONE' }];
  return listeners.map((l) => ({
    name: l.name ?? `port-${l.port}`,
    port: l.port ?? 15008,
    targetPort: l.port ?? 15008,
    protocol: 'TCP',
    appProtocol: (l.protocol ?? 'HBONE').toLowerCase(),
  }));
}

/** The ServiceAccount, Deployment and Service of a waypoint Gateway, in apply order. */
export function waypointObjects(gw: GatewayObject, s: WaypointSettings): KubeObj[] {
  const { name, namespace, uid } = gw.metadata;
  const sa = gw.metadata.annotations?.['gateway.istio.io/service-account'] ?? name;
  const selector = { 'gateway.networking.k8s.io/gateway-name': name };
  const labels = {
    ...(gw.metadata.labels ?? {}),
    ...selector,
    'gateway.networking.k8s.io/gateway-class-name': WAYPOINT_CLASS,
    [MANAGED_LABEL]: MANAGED_VALUE,
  };
  const owner = {
    apiVersion: gw.apiVersion ?? 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    name,
    uid,
    controller: true,
  };
  const meta = (extra: Record<string, string> = {}) => ({
    name,
    namespace,
    labels: { ...labels, ...extra },
    annotations: { 'istio.io/rev': 'default' },
    ownerReferences: [owner],
  });
  const field = (n: string, path: string) => ({ name: n, valueFrom: { fieldRef: { fieldPath: path } } });
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { ...meta(), name: sa } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(),
      spec: {
        selector: { matchLabels: selector },
        template: {
          metadata: {
            labels: {
              ...labels,
              'sidecar.istio.io/inject': 'false',
              'istio.io/dataplane-mode': 'none',
              'service.istio.io/canonical-name': name,
              'service.istio.io/canonical-revision': 'latest',
            },
            annotations: { 'istio.io/rev': 'default' },
          },
          spec: {
            serviceAccountName: sa,
            terminationGracePeriodSeconds: 2,
            containers: [
              {
                name: 'istio-proxy',
                image: s.image,
                ...(s.imagePullPolicy ? { imagePullPolicy: s.imagePullPolicy } : {}),
                args: ['--name', name],
                env: [
                  field('POD_NAME', 'metadata.name'),
                  field('POD_NAMESPACE', 'metadata.namespace'),
                  field('INSTANCE_IP', 'status.podIP'),
                  field('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
                  { name: 'XDS_ADDRESS', value: s.xdsAddress },
                  { name: 'CA_ADDRESS', value: s.xdsAddress },
                  { name: 'TOKEN_FILE', value: '/var/run/secrets/tokens/istio-token' },
                  { name: 'TRUST_DOMAIN', value: s.trustDomain },
                  { name: 'CLUSTER_ID', value: s.clusterId },
                ],
                ports: [
                  { name: 'metrics', containerPort: 15020, protocol: 'TCP' },
                  { name: 'status-port', containerPort: 15021, protocol: 'TCP' },
                ],
                readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 5 },
                resources: s.resources ?? { requests: { cpu: '100m', memory: '128Mi' } },
                securityContext: {
                  runAsUser: 1337,
                  runAsGroup: 1337,
                  runAsNonRoot: true,
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
                volumeMounts: [
                  { name: 'istio-token', mountPath: '/var/run/secrets/tokens', readOnly: true },
                  { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio', readOnly: true },
                ],
              },
            ],
            volumes: [
              {
                name: 'istio-token',
                projected: {
                  sources: [
                    {
                      serviceAccountToken: {
                        audience: 'istio-ca',
                        expirationSeconds: 43200,
                        path: 'istio-token',
                      },
                    },
                  ],
                },
              },
              { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(),
      spec: {
        selector,
        type: 'ClusterIP',
        ports: [
          { name: 'status-port', port: 15021, targetPort: 15021, protocol: 'TCP' },
          ...listenerPorts(gw),
        ],
      },
    },
  ];
}

function condition(
  prev: Condition[] | undefined,
  type: string,
  ok: boolean,
  reason: string,
  message: string,
  generation: number | undefined,
  now: string,
): Condition {
  const status = ok ? 'True' : 'False';
  const before = prev?.find((c) => c.type === type);
  return {
    type,
    status,
    reason,
    message,
    lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

/**
 * The Gateway's status as Istio writes it: Accepted; Programmed once the Service has its cluster IP
 * ("assigned to service(s) <gw>.<ns>.svc.<suffix>:15008"); addresses = the IP and the host name.
 * `conflict` names an existing object of the same name istiod did not create (then not Programmed).
 */
export function waypointStatus(
  gw: GatewayObject,
  clusterIp: string | undefined,
  opts: { domainSuffix?: string; conflict?: string; now?: string } = {},
): NonNullable<GatewayObject['status']> {
  const now = opts.now ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const { name, namespace, generation } = gw.metadata;
  const host = `${name}.${namespace}.svc.${opts.domainSuffix ?? 'cluster.local'}`;
  const prev = gw.status?.conditions;
  const programmed = !opts.conflict && !!clusterIp;
  const ports = listenerPorts(gw)
    .map((p) => p.port)
    .join(',');
  return {
    addresses: clusterIp
      ? [
          { type: 'IPAddress', value: clusterIp },
          { type: 'Hostname', value: host },
        ]
      : (gw.status?.addresses ?? []),
    conditions: [
      condition(prev, 'Accepted', true, 'Accepted', 'Resource accepted', generation, now),
      condition(
        prev,
        'Programmed',
        programmed,
        programmed ? 'Programmed' : opts.conflict ? 'Invalid' : 'Pending',
        programmed
          ? `Resource programmed, assigned to service(s) ${host}:${ports}`
          : (opts.conflict ?? 'waiting for the Service to get its cluster IP'),
        generation,
        now,
      ),
    ],
  };
}
