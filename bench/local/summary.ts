/**
 * The figures of `meshctl bench` from its runs (pure): per mode and connection count the pooled
 * percentiles, their spread over rounds, the latency added over no mesh, CPU seconds per 1000 requests
 * and peak RSS of the mesh processes on the path; the rate sweep's verdict; the two goals.
 */
import { median } from '../hbone/stats.js';
import type { ProcUsage } from './proc-stats.js';

export const MODES = ['no-mesh', 'ambient', 'waypoint', 'sidecar', 'haproxy', 'haproxy-http'] as const;
export type Mode = (typeof MODES)[number];

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface Added {
  p50: number;
  p90: number;
  p99: number;
}

/** One fixed-rate run: a mode at a connection count in one round. */
export interface RateRun {
  variant: Mode;
  conns: number;
  round: number;
  /** Milliseconds, from the due time. */
  latency: Latency;
  /** Milliseconds, from the actual write. */
  service: Latency;
  completed: number;
  errors: number;
  rps: number;
  /** The mesh processes on the mode's path (none without the mesh): CPU and RSS during the run. */
  procs: Record<string, ProcUsage>;
}

/** A mode at a connection count, over its rounds. */
export interface Point {
  mode: Mode;
  connections: number;
  rounds: number;
  /** Pooled over the rounds, ms from the due time. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** [min, max] of each round's own percentile: the spread over rounds. */
  spread: { p50: [number, number]; p90: [number, number]; p99: [number, number] };
  /** Median of the rounds' achieved rates. */
  rps: number;
  completed: number;
  errors: number;
  /** Pooled, over no mesh at the same connection count (NaN without no mesh). */
  added: Added;
  /** CPU seconds per 1000 requests of each mesh process on the path (median of rounds), and their sum. */
  cpuSPer1000: Record<string, number>;
  cpuTotalSPer1000: number;
  /** Peak RSS of each mesh process on the path during the point's runs, MB, and their sum. */
  rssMb: Record<string, number>;
  rssTotalMb: number;
}

const range = (xs: number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];

/** Points from the runs; `pooled(mode, conns)` gives the pooled percentiles of all its rounds. */
export function summarize(
  runs: RateRun[],
  modes: readonly Mode[],
  connections: readonly number[],
  pooled: (m: Mode, c: number) => Latency,
): Point[] {
  const out: Point[] = [];
  for (const c of connections) {
    const base = runs.some((x) => x.variant === 'no-mesh' && x.conns === c)
      ? pooled('no-mesh', c)
      : undefined;
    for (const m of modes) {
      const mine = runs.filter((x) => x.variant === m && x.conns === c);
      if (mine.length === 0) continue;
      const l = pooled(m, c);
      const names = [...new Set(mine.flatMap((x) => Object.keys(x.procs)))];
      const cpu: Record<string, number> = {};
      const rss: Record<string, number> = {};
      for (const n of names) {
        cpu[n] = median(mine.map((x) => (x.procs[n]?.cpuUsPerUnit ?? NaN) / 1000));
        rss[n] = Math.max(...mine.map((x) => x.procs[n]?.rssMb ?? 0));
      }
      out.push({
        mode: m,
        connections: c,
        rounds: mine.length,
        ...l,
        spread: {
          p50: range(mine.map((x) => x.latency.p50)),
          p90: range(mine.map((x) => x.latency.p90)),
          p99: range(mine.map((x) => x.latency.p99)),
        },
        rps: median(mine.map((x) => x.rps)),
        completed: mine.reduce((a, x) => a + x.completed, 0),
        errors: mine.reduce((a, x) => a + x.errors, 0),
        added: {
          p50: l.p50 - (base?.p50 ?? NaN),
          p90: l.p90 - (base?.p90 ?? NaN),
          p99: l.p99 - (base?.p99 ?? NaN),
        },
        cpuSPer1000: cpu,
        cpuTotalSPer1000: Object.values(cpu).reduce((a, x) => a + x, 0),
        rssMb: rss,
        rssTotalMb: Object.values(rss).reduce((a, x) => a + x, 0),
      });
    }
  }
  return out;
}

export interface SweepStep {
  rate: number;
  /** Completed requests over the wall time from the first measured due time to the last answer. */
  achieved: number;
  errors: number;
  p99: number;
  sustained: boolean;
}

export interface Sweep {
  mode: Mode;
  connections: number;
  steps: SweepStep[];
  /** The highest intended rate sustained (0 when even the first step was not). */
  maxSustained: number;
  /** Why the mode has no sweep (its path did not answer). */
  error?: string;
}

/** A rate is sustained when every request succeeded and the path delivered at least 90 % of it. */
export const sustained = (rate: number, achieved: number, errors: number): boolean =>
  errors === 0 && achieved >= 0.9 * rate;

/** The rates of a doubling sweep from `start` up to `max`. */
export function sweepRates(start: number, max: number): number[] {
  const out: number[] = [];
  for (let r = start; r <= max; r *= 2) out.push(r);
  return out;
}

export interface MemoryPhase {
  pods: number;
  /** Per mesh process, peak RSS during light traffic to the pods, MB. */
  ambient?: { processes: Record<string, number>; totalMb: number; errors: number };
  sidecar?: { processes: Record<string, number>; totalMb: number; errors: number };
}

export interface Goals {
  /** Per connection count: ambient L4 added p99 over sidecar added p99 (goal <= 0.25). */
  p99: Array<{ connections: number; ambientMs: number; sidecarMs: number; ratio: number; met: boolean }>;
  /** Mesh memory with the memory phase's pods, ambient over sidecar (goal <= 0.2). */
  memory?: { ambientMb: number; sidecarMb: number; ratio: number; met: boolean };
}

export const P99_GOAL = 0.25;
export const MEMORY_GOAL = 0.2;

export function goalsOf(points: Point[], mem: MemoryPhase | undefined): Goals {
  const p99: Goals['p99'] = [];
  for (const a of points.filter((p) => p.mode === 'ambient')) {
    const s = points.find((p) => p.mode === 'sidecar' && p.connections === a.connections);
    if (!s) continue;
    const ratio = a.added.p99 / s.added.p99;
    // A figure at or below zero is noise (no mesh's own tail above the mode's): no ratio then.
    const ok = Number.isFinite(ratio) && s.added.p99 > 0 && a.added.p99 > 0;
    p99.push({
      connections: a.connections,
      ambientMs: a.added.p99,
      sidecarMs: s.added.p99,
      ratio: ok ? ratio : NaN,
      met: ok && ratio <= P99_GOAL,
    });
  }
  const g: Goals = { p99 };
  if (mem?.ambient && mem.sidecar) {
    const ratio = mem.ambient.totalMb / mem.sidecar.totalMb;
    g.memory = {
      ambientMb: mem.ambient.totalMb,
      sidecarMb: mem.sidecar.totalMb,
      ratio,
      met: ratio <= MEMORY_GOAL,
    };
  }
  return g;
}

/** `--modes` and `--connections` as given on the command line; a clear error for a bad entry. */
export function parseModes(s: string, available: readonly Mode[]): Mode[] {
  const out: Mode[] = [];
  for (const part of s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    if (!(MODES as readonly string[]).includes(part))
      throw new Error(`--modes: unknown mode ${JSON.stringify(part)}; the modes are ${MODES.join(', ')}`);
    if (!available.includes(part as Mode))
      throw new Error(
        `--modes: ${part} needs haproxy, which is not installed (HAPROXY_BIN or apt-get install haproxy)`,
      );
    if (!out.includes(part as Mode)) out.push(part as Mode);
  }
  if (out.length === 0) throw new Error('--modes: give at least one mode');
  // Added latency is measured against no mesh in the same run.
  if (!out.includes('no-mesh')) out.unshift('no-mesh');
  return out;
}

export function parseConnections(s: string): number[] {
  const out: number[] = [];
  for (const part of s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const n = Number(part);
    if (!Number.isInteger(n) || n < 1 || n > 256)
      throw new Error(`--connections: ${JSON.stringify(part)} is not a whole number from 1 to 256`);
    if (!out.includes(n)) out.push(n);
  }
  if (out.length === 0) throw new Error('--connections: give at least one count, e.g. 1,4,16,64');
  return out;
}
