/**
 * The pods `meshctl bench` adds to the local cluster for the run, as a user would (objects written to
 * the configuration directory, which the cluster's kubelet loop turns into pods; injection is decided
 * when a pod is created):
 *
 * - the sidecar pair: namespace `bench-sidecar` labelled `istio-injection=enabled` with its own curl
 *   (node-1) and echo (node-2) and Service echo. It exists side by side with default/curl and
 *   default/echo for the whole run, so switching to and from sidecar mode costs nothing and the rounds
 *   stay interleaved;
 * - the memory phase: N echo pods (no node pinned: spread over the nodes) in `bench-mem-ambient`
 *   (labelled ambient) and then in `bench-mem-sidecar` (injected).
 */
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { readClusterFile, type ClusterFile } from '../../src/local/cluster/state.js';

export const SIDECAR_NS = 'bench-sidecar';
export const PLAIN_NS = 'bench-plain';
export const MEM_NS = { ambient: 'bench-mem-ambient', sidecar: 'bench-mem-sidecar' } as const;

type Pod = ClusterFile['pods'][number];
type Obj = { apiVersion: string; kind: string; metadata: Record<string, unknown>; spec?: unknown };

const ECHO_CMD = ['node', '$(MESHLITE_DIST)/local/apps/echo-main.js', '--port', '8080'];

function deployment(ns: string, name: string, replicas: number, app: string, node?: string): Obj {
  const container =
    app === 'curl' || app === 'hop'
      ? { name: app, image: 'curlimages/curl', command: ['sleep', 'infinity'] }
      : { name: 'echo', image: 'meshlite/echo', command: ECHO_CMD, ports: [{ containerPort: 8080 }] };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { ...(node ? { nodeName: node } : {}), serviceAccountName: name, containers: [container] },
      },
    },
  };
}

function service(ns: string, name: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
  };
}

function namespace(name: string, labels: Record<string, string>): Obj {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

/** The file the cluster (and `meshctl apply`) keeps an object in: `<kind>-<ns>-<name>.yaml`. */
const fileOf = (o: Obj): string => {
  const m = o.metadata as { name: string; namespace?: string };
  return `${o.kind.toLowerCase()}-${m.namespace ? `${m.namespace}-` : ''}${m.name}.yaml`;
};

/** A set of objects written for the run and removed at its end. */
export class BenchObjects {
  private readonly files: string[] = [];
  constructor(private readonly configDir: string) {}

  async write(objs: Obj[]): Promise<void> {
    for (const o of objs) {
      const f = fileOf(o);
      // A Service the cluster gave a clusterIP keeps it (the kubelet loop rewrites the file).
      if (!this.files.includes(f)) this.files.push(f);
      const old = await readFile(join(this.configDir, f), 'utf8').catch(() => '');
      if (o.kind === 'Service' && old.includes('clusterIP')) continue;
      await writeFile(join(this.configDir, f), stringify(o));
    }
  }

  /** Removes every object written; whether there was any. */
  async removeAll(): Promise<boolean> {
    const files = this.files.splice(0);
    for (const f of files) await rm(join(this.configDir, f), { force: true });
    return files.length > 0;
  }
}

export const sidecarPairObjects = (): Obj[] => [
  namespace(SIDECAR_NS, { 'istio-injection': 'enabled' }),
  deployment(SIDECAR_NS, 'echo', 1, 'echo', 'node-2'),
  service(SIDECAR_NS, 'echo'),
  deployment(SIDECAR_NS, 'curl', 1, 'curl', 'node-1'),
];

/**
 * The pair outside the mesh (no mesh and the haproxy references): namespace `bench-plain`, unlabelled,
 * the same apps and nodes; with `hop`, an empty pod on node-1 (where haproxy H runs for haproxy-http).
 */
export const plainPairObjects = (hop: boolean): Obj[] => [
  namespace(PLAIN_NS, {}),
  deployment(PLAIN_NS, 'echo', 1, 'echo', 'node-2'),
  service(PLAIN_NS, 'echo'),
  deployment(PLAIN_NS, 'curl', 1, 'curl', 'node-1'),
  ...(hop ? [deployment(PLAIN_NS, 'hop', 1, 'hop', 'node-1')] : []),
];

export const memoryObjects = (mode: 'ambient' | 'sidecar', n: number): Obj[] => [
  namespace(
    MEM_NS[mode],
    mode === 'ambient' ? { 'istio.io/dataplane-mode': 'ambient' } : { 'istio-injection': 'enabled' },
  ),
  deployment(MEM_NS[mode], 'app', n, 'echo'),
  service(MEM_NS[mode], 'app'),
];

/** Whether a pid is the sidecar (istio-proxy) of its pod, by its command line. */
function isSidecar(pid: number, cmdline: (pid: number) => string): boolean {
  return cmdline(pid).includes('sidecar/main.js');
}

export function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The sidecar process of a pod (its istio-proxy container), if it runs. */
export function sidecarPid(pod: Pod, cmdline = readCmdline): number | undefined {
  return pod.pids.find((p) => isSidecar(p, cmdline));
}

/**
 * Waits until the cluster file lists the pods of `ns` (count `n`, each with its containers running and,
 * for an injected namespace, a sidecar); returns them.
 */
export async function waitForPods(
  stateDir: string,
  ns: string,
  n: number,
  injected: boolean,
  ms = 120_000,
): Promise<Pod[]> {
  const end = Date.now() + ms;
  let seen = 0;
  while (Date.now() < end) {
    const c = await readClusterFile(stateDir);
    const pods = (c?.pods ?? []).filter((p) => p.namespace === ns);
    seen = pods.length;
    if (
      pods.length === n &&
      pods.every((p) => p.pids.length > 0 && (!injected || (p.sidecar && sidecarPid(p) !== undefined)))
    )
      return pods;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `meshctl bench: timed out waiting for ${n} pod(s) in namespace ${ns} (${seen} seen); is the cluster's kubelet loop running (meshctl up) and are its logs clean?`,
  );
}

/** Waits until no pod of `ns` is left (bounded; the cluster removes them after the objects go). */
export async function waitForNoPods(stateDir: string, ns: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const c = await readClusterFile(stateDir);
    if (!(c?.pods ?? []).some((p) => p.namespace === ns)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}
