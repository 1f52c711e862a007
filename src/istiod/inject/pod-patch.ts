/**
 * What istiod's injection webhook adds to a pod (pure): the `istio-init` init container (the capture
 * rules), the `istio-proxy` container first among the containers (the pod's service-account identity,
 * a projected token for the audience istio-ca, istiod's root from `istio-ca-root-cert`), the volumes,
 * Istio's labels and the `sidecar.istio.io/status` annotation; as an RFC 6902 JSON patch of the pod.
 */
import { proxyEnv } from '../proxy-env.js';
import { captureFromAnnotations } from '../../sidecar/rules.js';
import { initArgs } from '../../sidecar/init.js';
import {
  canonicalNames,
  podExcluded,
  SIDECAR_STATUS,
  sidecarStatus,
  TUNNEL_LABEL,
} from '../../sidecar/injection-policy.js';

export const PROXY_UID = 1337;

export interface InjectionSettings {
  /** The sidecar image (values: <hub>/sidecar:<tag>); it runs both containers. */
  image: string;
  imagePullPolicy?: string;
  /** istiod's xDS + CA address as pods reach it (istiod.istio-system.svc:15010). */
  xdsAddress: string;
  trustDomain: string;
  clusterId: string;
  resources?: Record<string, Record<string, string>>;
}

export interface PodIn {
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }>;
  };
  spec?: {
    serviceAccountName?: string;
    hostNetwork?: boolean;
    containers?: Array<{ name?: string }>;
    initContainers?: Array<{ name?: string }>;
    volumes?: Array<{ name?: string }>;
  };
}

export type PatchOp = { op: 'add' | 'replace'; path: string; value: unknown };

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
const escape = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** The workload that owns the pod: a ReplicaSet's Deployment (the pod-template-hash cut off), else the owner. */
function workloadName(pod: PodIn, fallback: string): string {
  const owner =
    pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!owner?.name) return fallback;
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`))
    return owner.name.slice(0, -hash.length - 1);
  return owner.name;
}

const VOLUMES = ['istio-envoy', 'istio-token', 'istiod-ca-cert'];

/**
 * The patch that injects the pod, or `skip` with why it is left alone (the API server's selectors
 * chose it, but the pod opts out, is a gateway, runs on the host network or is injected already).
 */
export function injectionPatch(
  pod: PodIn,
  namespace: string,
  s: InjectionSettings,
): { patch: PatchOp[]; warnings: string[] } | { skip: string } {
  const meta = pod.metadata ?? {};
  const labels = meta.labels ?? {};
  const why = podExcluded(namespace, labels, {
    annotations: meta.annotations,
    hostNetwork: pod.spec?.hostNetwork,
  });
  if (why) return { skip: why };
  const podName = meta.name ?? meta.generateName?.replace(/-$/, '') ?? 'pod';
  const workload = workloadName(pod, podName);
  const { app, version } = canonicalNames(labels, workload);
  const { capture, errors } = captureFromAnnotations(meta.annotations);
  const pull = s.imagePullPolicy ? { imagePullPolicy: s.imagePullPolicy } : {};
  const init = {
    name: 'istio-init',
    image: s.image,
    ...pull,
    command: ['node', 'dist/src/sidecar/init-main.js'],
    args: initArgs({ ...capture, proxyUid: PROXY_UID }),
    resources: { requests: { cpu: '10m', memory: '40Mi' } },
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
  const proxy = {
    name: 'istio-proxy',
    image: s.image,
    ...pull,
    args: ['--workload', workload, '--app', app, '--version', version],
    env: proxyEnv(s),
    ports: [
      { name: 'tunnel', containerPort: 15008, protocol: 'TCP' },
      { name: 'http-envoy-prom', containerPort: 15020, protocol: 'TCP' },
      { name: 'status-port', containerPort: 15021, protocol: 'TCP' },
    ],
    readinessProbe: { httpGet: { path: '/healthz/ready', port: 15021 }, periodSeconds: 5 },
    resources: s.resources ?? { requests: { cpu: '100m', memory: '128Mi' } },
    securityContext: {
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_UID,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: 'istio-envoy', mountPath: '/etc/istio/proxy' },
      { name: 'istio-token', mountPath: '/var/run/secrets/tokens', readOnly: true },
      { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio', readOnly: true },
    ],
  };
  const volumes = [
    { name: 'istio-envoy', emptyDir: { medium: 'Memory' } },
    {
      name: 'istio-token',
      projected: {
        sources: [
          { serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } },
        ],
      },
    },
    { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
  ];
  const patch: PatchOp[] = [];
  const addAll = (path: string, existing: unknown[] | undefined, items: unknown[], first = false) => {
    if (!existing?.length) patch.push({ op: 'add', path, value: items });
    else items.forEach((v, i) => patch.push({ op: 'add', path: `${path}/${first ? i : '-'}`, value: v }));
  };
  addAll('/spec/initContainers', pod.spec?.initContainers, [init]);
  addAll('/spec/containers', pod.spec?.containers, [proxy], true);
  addAll('/spec/volumes', pod.spec?.volumes, volumes);
  const addMap = (
    path: string,
    existing: Record<string, string> | undefined,
    add: Record<string, string>,
  ) => {
    if (!existing) patch.push({ op: 'add', path, value: add });
    else
      for (const [k, v] of Object.entries(add))
        patch.push({ op: k in existing ? 'replace' : 'add', path: `${path}/${escape(k)}`, value: v });
  };
  addMap('/metadata/labels', meta.labels, {
    'security.istio.io/tlsMode': 'istio',
    'service.istio.io/canonical-name': app,
    'service.istio.io/canonical-revision': version,
    [TUNNEL_LABEL]: 'http',
  });
  addMap('/metadata/annotations', meta.annotations, {
    [SIDECAR_STATUS]: sidecarStatus({
      initContainers: ['istio-init'],
      containers: ['istio-proxy'],
      volumes: VOLUMES,
    }),
  });
  return { patch, warnings: errors };
}
