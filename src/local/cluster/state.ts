/**
 * The cluster's state directory and `cluster.json`, which meshctl reads to act on the running cluster
 * (the "current context"): where its configuration lives, its istiod and ztunnels, pods and services.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { NodeInfo, PodInfo } from './topology.js';
import { writeFileAtomic } from '../../common/atomic-file.js';
import type { ServiceIn } from './manifests.js';

/** A supervised process of the cluster: its pid now and how often the cluster restarted it. */
export interface ProcStatus {
  pid?: number;
  restarts: number;
}

export interface ClusterFile {
  name: string;
  stateDir: string;
  /** The directory istiod and the kubelet role read: what `meshctl apply/get/delete/label` act on. */
  configDir: string;
  mode: 'capture' | 'loopback';
  /** The `meshctl up` process that owns the cluster. */
  pid: number;
  ready: boolean;
  istiod: ProcStatus & { address: string; monitoring: string };
  nodes: Array<NodeInfo & { ztunnel: ProcStatus; ztunnelLog: string; admin: string }>;
  pods: Array<
    PodInfo & {
      pids: number[];
      restarts: number;
      labels: Record<string, string>;
      created?: string;
      /** Injected with a sidecar. */
      sidecar?: boolean;
    }
  >;
  services: ServiceIn[];
}

/** `MESHLITE_STATE_DIR`, else ~/.meshlite/cluster. */
export const defaultStateDir = (): string =>
  process.env.MESHLITE_STATE_DIR || join(homedir(), '.meshlite', 'cluster');

export async function writeClusterFile(dir: string, c: ClusterFile): Promise<void> {
  await writeFileAtomic(join(dir, 'cluster.json'), `${JSON.stringify(c, null, 2)}\n`);
}

export async function readClusterFile(dir: string): Promise<ClusterFile | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterFile;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The running cluster of a state directory (default: defaultStateDir()), read synchronously so that
 * option defaults can use it: undefined when there is no cluster.json or its `meshctl up` is gone.
 */
export function currentCluster(dir = defaultStateDir()): ClusterFile | undefined {
  try {
    const c = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as ClusterFile;
    return c.configDir && isAlive(c.pid) ? c : undefined;
  } catch {
    return undefined;
  }
}
