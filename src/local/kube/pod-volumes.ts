/**
 * The kubelet role's volumes: each of a pod's volumes becomes a directory on the host (emptyDir,
 * configMap, secret, projected service-account tokens), or the node's directory (hostPath), linked at
 * `<pod root>/<mountPath>` for every container that mounts it. The pod's netns and processes live on
 * this one machine, so the hostPaths a node agent reads of its node (`/proc`, the netns directory)
 * are the machine's own; any other hostPath is a directory of that node under the state directory.
 */
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeRequest } from '../../kube/kube-rest.js';
import { fieldValue, type KubePod, type PodFacts, type VolumeSpec } from './pod-spec.js';
import { writeTokenFile, type ProjectedToken } from './token-refresh.js';

/** hostPaths that are the machine's own (the node agent finds pods' processes and namespaces there). */
const SHARED_HOST_PATHS: Readonly<Record<string, string>> = {
  '/proc': '/proc',
  '/run/netns': '/run/netns',
  '/var/run/netns': '/run/netns',
};

export class VolumeNotReady extends Error {}

interface Dirs {
  /** The pod's own directory (volumes, root). */
  podDir: string;
  /** The node's directory: its hostPaths. */
  nodeDir: string;
}

/** What setUpVolumes made: the mountPaths (for path translation) and the token files to refresh. */
export interface PodVolumes {
  mountPaths: string[];
  tokens: ProjectedToken[];
}

export const podRoot = (podDir: string): string => join(podDir, 'root');

type Items = Array<{ key: string; path: string }> | undefined;

async function writeKeys(dir: string, data: Record<string, string | Buffer>, items: Items): Promise<void> {
  const pick = items ? items.map((i) => [i.path, data[i.key]] as const) : Object.entries(data);
  for (const [path, value] of pick) {
    if (value === undefined) continue;
    const file = join(dir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, value, { mode: 0o600 });
  }
}

async function configMapData(
  kc: KubeConfig,
  ns: string,
  name: string,
  optional: boolean | undefined,
): Promise<Record<string, string> | undefined> {
  const cm = await kubeRequest<{ data?: Record<string, string> }>(
    kc,
    'GET',
    `/api/v1/namespaces/${ns}/configmaps/${name}`,
    undefined,
    { allow404: true },
  );
  if (!cm && !optional) throw new VolumeNotReady(`configmap "${name}" not found`);
  return cm?.data ?? {};
}

async function secretData(
  kc: KubeConfig,
  ns: string,
  name: string,
  optional: boolean | undefined,
): Promise<Record<string, Buffer>> {
  const s = await kubeRequest<{ data?: Record<string, string> }>(
    kc,
    'GET',
    `/api/v1/namespaces/${ns}/secrets/${name}`,
    undefined,
    { allow404: true },
  );
  if (!s && !optional) throw new VolumeNotReady(`secret "${name}" not found`);
  return Object.fromEntries(Object.entries(s?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
}

/** A token for the pod's service account, bound to the pod (as the kubelet projects it). */
export async function podToken(
  kc: KubeConfig,
  pod: KubePod,
  audience: string | undefined,
  seconds: number,
): Promise<string> {
  const sa = pod.spec.serviceAccountName ?? 'default';
  const res = await kubeRequest<{ status?: { token?: string } }>(
    kc,
    'POST',
    `/api/v1/namespaces/${pod.metadata.namespace}/serviceaccounts/${sa}/token`,
    {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: {
        ...(audience ? { audiences: [audience] } : {}),
        expirationSeconds: seconds,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid: pod.metadata.uid },
      },
    },
  );
  const token = res?.status?.token;
  if (!token) throw new VolumeNotReady(`no token for service account ${sa}`);
  return token;
}

/** The host directory of one volume, filled. */
async function volumeDir(
  kc: KubeConfig,
  pod: KubePod,
  facts: PodFacts,
  v: VolumeSpec,
  d: Dirs,
  tokens: ProjectedToken[],
): Promise<string> {
  const ns = pod.metadata.namespace;
  if (v.hostPath) {
    const shared = SHARED_HOST_PATHS[v.hostPath.path.replace(/\/$/, '')];
    if (shared) return shared;
    const dir = join(d.nodeDir, 'host', v.hostPath.path);
    await mkdir(dir, { recursive: true });
    return dir;
  }
  const dir = join(d.podDir, 'volumes', v.name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  if (v.configMap)
    await writeKeys(
      dir,
      (await configMapData(kc, ns, v.configMap.name, v.configMap.optional)) ?? {},
      v.configMap.items,
    );
  else if (v.secret)
    await writeKeys(dir, await secretData(kc, ns, v.secret.secretName, v.secret.optional), v.secret.items);
  else if (v.projected)
    for (const src of v.projected.sources) {
      if (src.serviceAccountToken) {
        const t = src.serviceAccountToken;
        const seconds = t.expirationSeconds ?? 3600;
        const file = join(dir, t.path);
        await mkdir(dirname(file), { recursive: true });
        await writeTokenFile(file, await podToken(kc, pod, t.audience, seconds));
        tokens.push({ file, audience: t.audience, seconds, issuedAtMs: Date.now() });
      } else if (src.configMap)
        await writeKeys(
          dir,
          (await configMapData(kc, ns, src.configMap.name, src.configMap.optional)) ?? {},
          src.configMap.items,
        );
      else if (src.secret)
        await writeKeys(
          dir,
          await secretData(kc, ns, src.secret.name, src.secret.optional),
          src.secret.items,
        );
      else if (src.downwardAPI)
        for (const i of src.downwardAPI.items)
          if (i.fieldRef)
            await writeKeys(dir, { [i.path]: fieldValue(pod, facts, i.fieldRef.fieldPath) ?? '' }, undefined);
    }
  // emptyDir (and any kind not listed): an empty directory of the pod, writable by any user (0777, as
  // the kubelet makes it), so a container running as non-root (Istio's proxies, 1337) can write there.
  else await chmod(dir, 0o777);
  return dir;
}

/**
 * Fills the pod's volumes and links each container's mounts under the pod's root; returns the
 * mountPaths (for path translation) and the projected token files (for their refresh). Throws
 * VolumeNotReady while a ConfigMap/Secret is missing.
 */
export async function setUpVolumes(
  kc: KubeConfig,
  pod: KubePod,
  facts: PodFacts,
  d: Dirs,
): Promise<PodVolumes> {
  const root = podRoot(d.podDir);
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const dirs = new Map<string, string>();
  const tokens: ProjectedToken[] = [];
  for (const v of pod.spec.volumes ?? []) dirs.set(v.name, await volumeDir(kc, pod, facts, v, d, tokens));
  const mountPaths: string[] = [];
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers])
    for (const m of c.volumeMounts ?? []) {
      const src = dirs.get(m.name);
      if (!src) throw new VolumeNotReady(`container ${c.name} mounts unknown volume "${m.name}"`);
      const at = join(root, m.mountPath);
      if (mountPaths.includes(m.mountPath)) continue;
      await mkdir(dirname(at), { recursive: true });
      await symlink(m.subPath ? join(src, m.subPath) : src, at);
      mountPaths.push(m.mountPath);
    }
  return { mountPaths, tokens };
}
