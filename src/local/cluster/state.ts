/**
 * The cluster's state directory and `cluster.json`, which meshctl exec/status/down read.
 */
import { readFile, writeFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { NodeInfo, PodInfo } from './topology.js';
import type { ServiceIn } from './manifests.js';

export interface ClusterFile {
  name: string;
  stateDir: string;
  mode: 'capture' | 'loopback';
  pid: number;
  ready: boolean;
  istiod: { address: string; pid?: number };
  nodes: Array<NodeInfo & { ztunnelPid?: number; ztunnelLog: string }>;
  pods: Array<PodInfo & { pids: number[]; restarts: number; labels: Record<string, string> }>;
  services: ServiceIn[];
}

export const defaultStateDir = (): string => join(homedir(), '.meshlite', 'cluster');

export async function writeClusterFile(dir: string, c: ClusterFile): Promise<void> {
  const tmp = join(dir, 'cluster.json.tmp');
  await writeFile(tmp, `${JSON.stringify(c, null, 2)}\n`);
  await rename(tmp, join(dir, 'cluster.json'));
}

export async function readClusterFile(dir: string): Promise<ClusterFile | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'cluster.json'), 'utf8')) as ClusterFile;
  } catch {
    return undefined;
  }
}
