/**
 * What istiod's gateway deployment controller wants for a Gateway it manages (pure), per class: for
 * `istio-waypoint` (waypoints) and `istio` (ingress gateways) the ServiceAccount, Deployment and
 * Service owned by the Gateway, labelled as Istio labels them, and the Gateway's status (addresses and
 * conditions) once the Service has its address. The classes differ only in what `GatewayClassProfile`
 * names: object names, the managed label's value, the program run, the Service type.
 */
import type { ListenerStatus } from './l7/gateway-configs.js';
import { proxyEnv } from './proxy-env.js';
import { condition as statusCondition } from '../common/conditions.js';

export const WAYPOINT_CLASS = 'istio-waypoint';
export const INGRESS_CLASS = 'istio';
export const MANAGED_LABEL = 'gateway.istio.io/managed';
export const MANAGED_VALUE = 'istio.io-mesh-controller';
export const GATEWAY_FIELD_MANAGER = 'istio.io/gateway-controller';
/** Istio's annotation choosing the Service type of a gateway (ClusterIP, NodePort, LoadBalancer). */
export const SERVICE_TYPE_ANNOTATION = 'networking.istio.io/service-type';

/** What differs between the classes the controller handles. */
export interface GatewayClassProfile {
  className: string;
  /** Value of gateway.istio.io/managed. */
  managedValue: string;
  /** Name of the Deployment, Service and (default) ServiceAccount. */
  objectName(gateway: string): string;
  serviceType: 'ClusterIP' | 'LoadBalancer';
  /** Listeners when the Gateway names none. */
  defaultListeners: Array<{ name: string; port: number; protocol: string }>;
  /** Extra container ports besides the status ports (the listeners are served by the pod). */
  listenerContainerPorts: boolean;
}

export const WAYPOINT_PROFILE: GatewayClassProfile = {
  className: WAYPOINT_CLASS,
  managedValue: MANAGED_VALUE,
  objectName: (gw) => gw,
  serviceType: 'ClusterIP',
  defaultListeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
  listenerContainerPorts: false,
};

/** Ingress gateways: `<gw>-istio`, a LoadBalancer Service with the listener ports (Istio's). */
export const INGRESS_PROFILE: GatewayClassProfile = {
  className: INGRESS_CLASS,
  managedValue: 'istio.io-gateway-controller',
  objectName: (gw) => `${gw}-istio`,
  serviceType: 'LoadBalancer',
  defaultListeners: [],
  listenerContainerPorts: true,
};

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
  status?: {
    addresses?: Array<{ type?: string; value?: string }>;
    conditions?: Condition[];
    /** Per listener (ingress gateways): attached routes and conditions. */
    listeners?: ListenerStatus[];
  };
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
  /** The image (values: <hub>/waypoint:<tag>, or <hub>/gateway:<tag> for class istio). */
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

/** Why istiod does not handle this Gateway with this profile, or undefined when it does. */
export function notManaged(gw: GatewayObject, p: GatewayClassProfile): string | undefined {
  if (gw.spec?.gatewayClassName !== p.className) return `class is not ${p.className}`;
  if (gw.metadata.deletionTimestamp) return 'being deleted';
  return undefined;
}

/** Why istiod does not handle this Gateway as a waypoint, or undefined when it does. */
export const notAWaypoint = (gw: GatewayObject): string | undefined => notManaged(gw, WAYPOINT_PROFILE);

/**
 * The Gateway's listeners as Service ports (name, port, appProtocol lower-cased: mesh 15008 hbone),
 * one per port (listeners sharing a port, e.g. by host name, share it).
 */
function listenerPorts(gw: GatewayObject, p: GatewayClassProfile) {
  const listeners = gw.spec?.listeners?.length ? gw.spec.listeners : p.defaultListeners;
  const seen = new Set<number>();
  const out = [];
  for (const l of listeners) {
    const port = l.port ?? 15008;
    if (seen.has(port)) continue;
    seen.add(port);
    out.push({
      name: l.name ?? `port-${port}`,
      port,
      targetPort: port,
      protocol: 'TCP',
      appProtocol: (l.protocol ?? 'HBONE').toLowerCase(),
    });
  }
  return out;
}

function serviceType(gw: GatewayObject, p: GatewayClassProfile): string {
  const t = gw.metadata.annotations?.[SERVICE_TYPE_ANNOTATION];
  return t === 'ClusterIP' || t === 'NodePort' || t === 'LoadBalancer' ? t : p.serviceType;
}

/** The ServiceAccount, Deployment and Service of a waypoint Gateway, in apply order. */
export function waypointObjects(gw: GatewayObject, s: WaypointSettings): KubeObj[] {
  return gatewayObjects(gw, WAYPOINT_PROFILE, s);
}

/** The ServiceAccount, Deployment and Service of a Gateway of the profile's class, in apply order. */
export function gatewayObjects(gw: GatewayObject, p: GatewayClassProfile, s: WaypointSettings): KubeObj[] {
  const { name: gwName, namespace, uid } = gw.metadata;
  const name = p.objectName(gwName);
  const sa = gw.metadata.annotations?.['gateway.istio.io/service-account'] ?? name;
  const selector = { 'gateway.networking.k8s.io/gateway-name': gwName };
  const labels = {
    ...(gw.metadata.labels ?? {}),
    ...selector,
    'gateway.networking.k8s.io/gateway-class-name': p.className,
    [MANAGED_LABEL]: p.managedValue,
  };
  const ports = listenerPorts(gw, p);
  const owner = {
    apiVersion: gw.apiVersion ?? 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    name: gwName,
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
                env: proxyEnv(s),
                ports: [
                  { name: 'metrics', containerPort: 15020, protocol: 'TCP' },
                  { name: 'status-port', containerPort: 15021, protocol: 'TCP' },
                  ...(p.listenerContainerPorts
                    ? ports.map((l) => ({ containerPort: l.port, protocol: 'TCP' }))
                    : []),
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
        type: serviceType(gw, p),
        ports: [{ name: 'status-port', port: 15021, targetPort: 15021, protocol: 'TCP' }, ...ports],
      },
    },
  ];
}

/** Where the Service can be reached: its load balancer's addresses, else (not LoadBalancer) its cluster IP. */
export interface ServiceAddress {
  clusterIp?: string;
  type?: string;
  /** status.loadBalancer.ingress */
  ingress?: Array<{ ip?: string; hostname?: string }>;
}

/**
 * The Gateway's status as Istio writes it: Accepted; Programmed once the Service has its address
 * ("assigned to service(s) <svc>.<ns>.svc.<suffix>:<ports>"): a waypoint's or ClusterIP gateway's
 * cluster IP, a LoadBalancer's ingress address (until the load balancer assigns one: not
 * Programmed, reason AddressNotAssigned); addresses = those and the host name, never removed.
 * `conflict` names an existing object of the same name istiod did not create (then not Programmed).
 */
export function gatewayStatus(
  gw: GatewayObject,
  p: GatewayClassProfile,
  svc: ServiceAddress | undefined,
  opts: { domainSuffix?: string; conflict?: string; now?: string } = {},
): NonNullable<GatewayObject['status']> {
  const now = opts.now ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const { name, namespace, generation } = gw.metadata;
  const host = `${p.objectName(name)}.${namespace}.svc.${opts.domainSuffix ?? 'cluster.local'}`;
  const prev = gw.status?.conditions ?? [];
  const lb = svc?.type === 'LoadBalancer';
  const found: Array<{ type: string; value: string }> = [];
  if (lb)
    for (const i of svc?.ingress ?? []) {
      if (i.ip) found.push({ type: 'IPAddress', value: i.ip });
      else if (i.hostname) found.push({ type: 'Hostname', value: i.hostname });
    }
  else if (svc?.clusterIp) found.push({ type: 'IPAddress', value: svc.clusterIp });
  const programmed = !opts.conflict && found.length > 0;
  const ports = listenerPorts(gw, p)
    .map((l) => l.port)
    .join(',');
  const assigned = `${host}:${ports}`;
  const reason = programmed
    ? 'Programmed'
    : opts.conflict
      ? 'Invalid'
      : lb && svc
        ? 'AddressNotAssigned'
        : 'Pending';
  const message = programmed
    ? `Resource programmed, assigned to service(s) ${assigned}`
    : (opts.conflict ??
      (lb && svc
        ? `Assigned to service(s) ${assigned}, but the load balancer has not assigned an address yet`
        : 'waiting for the Service to get its cluster IP'));
  const cond = (type: string, ok: boolean, r: string, m: string) =>
    statusCondition(
      prev as unknown as Array<Record<string, unknown>>,
      type,
      ok,
      r,
      m,
      now,
      generation,
    ) as Condition;
  return {
    addresses: found.length ? [...found, { type: 'Hostname', value: host }] : (gw.status?.addresses ?? []),
    conditions: [
      cond('Accepted', true, 'Accepted', 'Resource accepted'),
      cond('Programmed', programmed, reason, message),
    ],
  };
}

/** A waypoint's status (its Service is ClusterIP): see gatewayStatus. */
export function waypointStatus(
  gw: GatewayObject,
  clusterIp: string | undefined,
  opts: { domainSuffix?: string; conflict?: string; now?: string } = {},
): NonNullable<GatewayObject['status']> {
  return gatewayStatus(gw, WAYPOINT_PROFILE, clusterIp ? { clusterIp, type: 'ClusterIP' } : undefined, opts);
}
