/**
 * The parts of a Pod (as the API server serves it, JSON) the local kubelet role reads, and the pure
 * steps of starting its containers: `$(VAR)` expansion, the downward API, and the translation of
 * paths under a volume's mountPath into the pod's root directory (pure; tested without a cluster).
 *
 * There is no mount namespace per container: each volume is a directory (or a symlink to one) at
 * `<pod root>/<mountPath>`, and a path under a mountPath in the container's args and environment is
 * rewritten to that place. `MESHLITE_POD_ROOT` tells the program where its root is (the in-cluster
 * Kubernetes client reads the service-account token under it).
 */
import type { SecurityContext } from './run-as.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    resourceFieldRef?: { resource: string };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

export interface Probe {
  httpGet?: { path?: string; port: number | string; scheme?: string };
  tcpSocket?: { port: number | string };
  periodSeconds?: number;
  initialDelaySeconds?: number;
}

export interface ContainerSpec {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number }>;
  volumeMounts?: Array<{ name: string; mountPath: string; subPath?: string; readOnly?: boolean }>;
  readinessProbe?: Probe;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  securityContext?: SecurityContext;
}

export interface VolumeSpec {
  name: string;
  hostPath?: { path: string; type?: string };
  emptyDir?: Record<string, unknown>;
  configMap?: { name: string; optional?: boolean; items?: Array<{ key: string; path: string }> };
  secret?: { secretName: string; optional?: boolean; items?: Array<{ key: string; path: string }> };
  projected?: {
    sources: Array<{
      serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
      configMap?: { name: string; optional?: boolean; items?: Array<{ key: string; path: string }> };
      secret?: { name: string; optional?: boolean; items?: Array<{ key: string; path: string }> };
      downwardAPI?: { items: Array<{ path: string; fieldRef?: { fieldPath: string } }> };
    }>;
  };
}

export interface KubePod {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
    creationTimestamp?: string;
    resourceVersion?: string;
  };
  spec: {
    nodeName?: string;
    serviceAccountName?: string;
    hostNetwork?: boolean;
    containers: ContainerSpec[];
    initContainers?: ContainerSpec[];
    volumes?: VolumeSpec[];
    terminationGracePeriodSeconds?: number;
    securityContext?: { runAsUser?: number; runAsGroup?: number; fsGroup?: number };
  };
  status?: {
    phase?: string;
    podIP?: string;
    hostIP?: string;
    conditions?: Array<{ type: string; status: string }>;
  };
}

/** What the downward API can name of a running pod. */
export interface PodFacts {
  podIP: string;
  hostIP: string;
}

/** `metadata.labels['app']` style and plain field paths, as the downward API resolves them. */
export function fieldValue(pod: KubePod, facts: PodFacts, path: string): string | undefined {
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]!];
  switch (path) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace;
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'spec.nodeName':
      return pod.spec.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? 'default';
    case 'status.podIP':
      return facts.podIP;
    case 'status.hostIP':
      return facts.hostIP;
    default:
      return undefined;
  }
}

/** Kubernetes' `$(VAR)` expansion: known names are replaced, `$$` escapes, unknown ones stay. */
export function expandVars(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, k: string | undefined) =>
    k === undefined ? '$' : (vars[k] ?? m),
  );
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Rewrites every path under one of `mountPaths` in `s` to the same path under `root`
 * (`--token=/var/run/secrets/tokens/t` → `--token=<root>/var/run/secrets/tokens/t`). A mountPath
 * matches only as a whole path (not `/tmpfoo` for `/tmp`), and a rewritten path is not rewritten again.
 */
export function translatePaths(s: string, mountPaths: readonly string[], root: string): string {
  const sorted = [...new Set(mountPaths.map((p) => p.replace(/\/$/, '')))]
    .filter((p) => p.startsWith('/') && p.length > 1)
    .sort((a, b) => b.length - a.length);
  if (sorted.length === 0) return s;
  // One pass over the string: a replaced path is never looked at again (the root may itself start
  // with a mountPath such as /tmp).
  const re = new RegExp(
    `(^|[^A-Za-z0-9_./-])(${sorted.map(escapeRe).join('|')})(?=$|/|[^A-Za-z0-9_.-])`,
    'g',
  );
  return s.replace(re, (_m, pre: string, mp: string) => `${pre}${root}${mp}`);
}

/** The container port a probe names (a number, or the name of one of the container's ports). */
export function probePort(c: ContainerSpec, port: number | string): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}
