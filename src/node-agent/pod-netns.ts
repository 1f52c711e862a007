/**
 * Finds a pod's network namespace from the node's /proc, as Istio's node agent does: a process of the
 * pod (marked with the pod's UID: the local kubelet role puts `MESHLITE_POD_UID` in its containers'
 * environment, where a container runtime puts it in the cgroup path), the inode of its `ns/net`, and
 * the entry of the netns directory with that inode (the name ztunnel enters).
 */
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface FoundNetns {
  /** Path of the namespace's entry in the netns directory (resolved, as ztunnel opens it). */
  path: string;
  /** The pod's default gateway (the node's side of its link), where kubelet probes come from. */
  gateway?: string;
}

/** The gateway of the default route in /proc/<pid>/net/route (little-endian hex), pure. */
export function defaultGateway(routeTable: string): string | undefined {
  for (const line of routeTable.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] !== '00000000' || !f[2] || f[2] === '00000000') continue;
    const n = Number.parseInt(f[2], 16);
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
  }
  return undefined;
}

/** Whether a process environment (NUL-separated) carries the pod UID marker. */
export function environHasUid(environ: Buffer, uid: string): boolean {
  return Buffer.concat([Buffer.from([0]), environ]).includes(`\0MESHLITE_POD_UID=${uid}\0`);
}

export class NetnsFinder {
  constructor(
    private readonly procDir: string,
    private readonly netnsDir: string,
  ) {}

  /** The pods' namespaces, by UID, for the UIDs asked (one scan of /proc). */
  async find(uids: readonly string[]): Promise<Map<string, FoundNetns>> {
    const out = new Map<string, FoundNetns>();
    if (uids.length === 0) return out;
    const want = new Set(uids);
    const pids = (await readdir(this.procDir))
      .filter((p) => /^\d+$/.test(p))
      .map(Number)
      .sort((a, b) => a - b);
    const inodes = await this.netnsEntries();
    for (const pid of pids) {
      if (want.size === 0) break;
      const env = await readFile(join(this.procDir, String(pid), 'environ')).catch(() => undefined);
      if (!env) continue;
      const uid = [...want].find((u) => environHasUid(env, u));
      if (!uid) continue;
      // The oldest process of the pod (lowest pid here) names its namespace.
      const ns = await stat(join(this.procDir, String(pid), 'ns', 'net')).catch(() => undefined);
      const path = ns ? (inodes.get(`${ns.dev}:${ns.ino}`) ?? inodes.get(`:${ns.ino}`)) : undefined;
      if (!path) continue;
      const routes = await readFile(join(this.procDir, String(pid), 'net', 'route'), 'utf8').catch(() => '');
      const gateway = defaultGateway(routes);
      out.set(uid, gateway ? { path, gateway } : { path });
      want.delete(uid);
    }
    return out;
  }

  private async netnsEntries(): Promise<Map<string, string>> {
    const dir = await realpath(this.netnsDir);
    const out = new Map<string, string>();
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const s = await stat(join(dir, name)).catch(() => undefined);
      if (!s) continue;
      out.set(`${s.dev}:${s.ino}`, join(dir, name));
      out.set(`:${s.ino}`, join(dir, name));
    }
    return out;
  }
}
