/** A process and its children, from /proc: CPU time and resident memory of a multi-process proxy. */
import { readdirSync, readFileSync } from 'node:fs';
import { cpuMs } from '../hbone/topology.js';

/** `pid` and every process whose parent is `pid` (one level: cluster workers are the primary's children). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** Resident set size in KiB (0 when the process is gone). */
export function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export const treeCpuMs = (pids: readonly number[]): number => pids.reduce((s, p) => s + cpuMs(p), 0);
export const treeRssKb = (pids: readonly number[]): number => pids.reduce((s, p) => s + rssKb(p), 0);
