/**
 * `meshctl bench` on a running local cluster: every mode in one run (paths.ts), interleaved round by
 * round (the order rotated each round), each at every connection count at a fixed rate; then bulk
 * throughput, the optional rate sweep and the memory phase (phases.ts). The load generator runs inside
 * the client pod (meshctl exec); CPU and memory of the mesh processes on each path come from
 * /proc/<pid>.
 */
import { cpus, loadavg } from 'node:os';
import type { ClusterFile } from '../../src/local/cluster/state.js';
import { median, percentile } from '../hbone/stats.js';
import { haproxyAvailable } from '../hbone/haproxy.js';
import { errorMessage } from '../../src/common/errors.js';
import type { BulkOutput, RateOutput } from './loadgen.js';
import type { ProcUsage } from './proc-stats.js';
import { BenchPaths, loadgen } from './paths.js';
import { runMemory, runSweep } from './phases.js';
import {
  MODES,
  goalsOf,
  summarize,
  type Added,
  type Goals,
  type Latency,
  type MemoryPhase,
  type Mode,
  type Point,
  type RateRun,
  type Sweep,
} from './summary.js';

export { isAmbient, loadgen, setAmbient } from './paths.js';
export type { Latency, Mode, RateRun } from './summary.js';
/** The old name of a mode. */
export type Variant = Mode;

const isHaproxy = (v: Mode): boolean => v === 'haproxy' || v === 'haproxy-http';
/** The modes this machine can run: haproxy's only where it is installed. */
export const availableModes = (): Mode[] => MODES.filter((v) => !isHaproxy(v) || haproxyAvailable());
/** Istio's published connection counts. */
export const ISTIO_CONNECTIONS = [1, 4, 16, 64];

export interface LocalBenchOptions {
  rounds: number;
  /** Measured seconds per fixed-rate run (after `warmup` seconds that are not counted). */
  seconds: number;
  warmup: number;
  rate: number;
  /** Connection counts; each is a point of every mode in every round. */
  connections: number[];
  size: number;
  /** Seconds of one-connection bulk per mode; 0 skips bulk. */
  bulkSeconds: number;
  /** Body size of each bulk GET, bytes. */
  bulkChunk: number;
  /** An untimed pass per mode before its first point (fresh processes JIT-compile, pools fill). */
  warmupPass: boolean;
  variants: readonly Mode[];
  /** Rate sweep to saturation (0 = none): on this many connections. */
  sweepConnections: number;
  sweepMax: number;
  /** Pods per mode in the memory phase (0 = none; needs ambient and sidecar). */
  memPods: number;
  progress: (msg: string) => void;
}

export function defaultLocalOptions(quick: boolean, progress: (m: string) => void): LocalBenchOptions {
  const variants = availableModes();
  const common = { rate: 1000, size: 1024, variants, sweepConnections: 0, sweepMax: 64_000, progress };
  return quick
    ? {
        ...common,
        rounds: 1,
        seconds: 1.5,
        warmup: 0.5,
        warmupPass: false,
        connections: [4, 16],
        bulkSeconds: 0.3,
        bulkChunk: 1 << 20,
        memPods: 0,
      }
    : {
        ...common,
        rounds: 3,
        seconds: 5,
        warmup: 1,
        warmupPass: true,
        connections: ISTIO_CONNECTIONS,
        bulkSeconds: 2,
        bulkChunk: 64 << 20,
        memPods: 10,
      };
}

export interface BulkRun {
  variant: Mode;
  mbPerSec: number;
  errors: number;
  procs: Record<string, ProcUsage>;
}

export interface LocalBenchReport {
  meta: { date: string; nproc: number; cpuModel: string; node: string; cluster: string; loadavg: number[] };
  settings: Omit<LocalBenchOptions, 'progress'> & {
    /** Per mode: client pod -> target -> server pod. */
    pairs: Partial<Record<Mode, string>>;
    request: string;
    /** The connection count of the CDF plot and of the single-point figures below. */
    reference: number;
  };
  runs: RateRun[];
  /** Modes whose path did not answer in a round (their points there count as failed). */
  failures?: string[];
  /** Per mode and connection count. */
  points: Point[];
  bulk: BulkRun[];
  sweep?: Sweep[];
  memory?: MemoryPhase;
  goals: Goals;
  /** At the reference connection count: pooled over rounds, ms. */
  summary: Partial<Record<Mode, Latency & { errors: number; completed: number }>>;
  /** Ambient over no mesh at the reference connection count, ms. */
  added: Added;
  /** The haproxy pair over no mesh, ms, and ambient's added latency, CPU and bulk as ratios of its. */
  haproxy?: { added: Added; ratios: Added & { cpuPerRequest: number; bulk: number } };
  /** The waypoint path against ambient L4 and against the haproxy HTTP hop (issue 10's goals). */
  waypoint?: {
    added: Added;
    p90OverAmbient: number;
    cpuUsPerRequest: { waypoint: number; ztunnel: number; ratio: number };
    haproxyHop?: { added: Added; hopCpuUsPerRequest: number };
    goals: { p90: { limit: number; met: boolean }; cpu: { limit: number; met: boolean } };
  };
  /** Latency (ms) at each quantile, pooled, at the reference connection count: for the CDF plot. */
  curve: { quantiles: number[] } & Partial<Record<Mode, number[]>>;
}

const QUANTILES = [
  0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.965, 0.975, 0.98, 0.985, 0.99,
  0.9925, 0.995, 0.997, 0.998, 0.999,
];

function latencyOfSorted(s: Float64Array): Latency {
  const q = (x: number): number => percentile(s, x) / 1000;
  return {
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    p999: q(0.999),
    max: s.length ? s[s.length - 1]! / 1000 : NaN,
  };
}
const NAN_LATENCY: Latency = { p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN };
const latencyOf = (us: number[]): Latency => latencyOfSorted(Float64Array.from(us).sort());

/** One bulk transfer on mode `v`'s pair: MB/s and the mesh processes' CPU per MB. */
async function bulkRun(paths: BenchPaths, v: Mode, o: LocalBenchOptions): Promise<BulkRun> {
  await paths.switchTo(v);
  const watch = paths.watchOf(v);
  watch.begin();
  const g = await loadgen<BulkOutput>(
    paths.stateDir,
    [
      '--mode',
      'bulk',
      ...paths.targetOf(v),
      '--seconds',
      String(o.bulkSeconds),
      '--chunk',
      String(o.bulkChunk),
    ],
    paths.clientRef(v),
  );
  const mb = g.bytes / 1e6;
  return { variant: v, mbPerSec: mb / g.seconds, errors: g.errors, procs: watch.end(mb) };
}

/** CPU µs per request of a run's processes together. */
const sumCpu = (u: Record<string, ProcUsage>): number =>
  Object.values(u).reduce((a, x) => a + (x.cpuUsPerUnit ?? 0), 0);

async function rateRun(
  paths: BenchPaths,
  v: Mode,
  conns: number,
  round: number,
  o: LocalBenchOptions,
): Promise<{ run: RateRun; us: number[] }> {
  const watch = paths.watchOf(v);
  watch.begin();
  const g = await loadgen<RateOutput>(
    paths.stateDir,
    [
      '--mode',
      'rate',
      ...paths.targetOf(v),
      '--rate',
      String(o.rate),
      '--conns',
      String(conns),
      '--seconds',
      String(o.seconds),
      '--warmup',
      String(o.warmup),
      '--size',
      String(o.size),
    ],
    paths.clientRef(v),
  );
  const procs = watch.end(g.sent);
  return {
    run: {
      variant: v,
      conns,
      round,
      latency: latencyOf(g.latencyUs),
      service: latencyOf(g.serviceUs),
      completed: g.completed,
      errors: g.errors,
      rps: g.completed / g.wallSeconds,
      procs,
    },
    us: g.latencyUs,
  };
}

export async function runLocalBench(cluster: ClusterFile, o: LocalBenchOptions): Promise<LocalBenchReport> {
  const p = o.progress;
  const variants = o.variants;
  const ref = o.connections.includes(4) ? 4 : o.connections[0]!;
  const paths = new BenchPaths(cluster, variants, p);
  const runs: RateRun[] = [];
  const failures: string[] = [];
  const pooled = new Map<string, number[]>();
  const key = (v: Mode, c: number): string => `${v}@${c}`;
  try {
    await paths.prepare();
    for (let r = 0; r < o.rounds; r++) {
      // Rotated per round, so machine noise and warm-up hit every mode alike; the connection counts
      // rotate too within each mode's turn.
      const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
      for (const v of order) {
        // A mode whose path does not answer costs its points in this round (counted as failed, the
        // reason kept), not the other modes' figures.
        const ok = await paths.switchTo(v).then(
          () => true,
          (err: unknown) => {
            const why = `round ${r + 1} ${v}: ${errorMessage(err)}`;
            failures.push(why);
            p(`${why}; its points in this round count as failed`);
            for (const c of o.connections)
              runs.push({
                variant: v,
                conns: c,
                round: r + 1,
                latency: NAN_LATENCY,
                service: NAN_LATENCY,
                completed: 0,
                errors: Math.round(o.rate * o.seconds),
                rps: 0,
                procs: {},
              });
            return false;
          },
        );
        if (!ok) continue;
        if (r === 0 && o.warmupPass) {
          // The first visit of each mode: an untimed pass (fresh processes JIT-compile, pools and
          // TLS sessions fill), so no round-1 point carries a cold start.
          p(`warm-up ${v}: ${o.rate} req/s for ${Math.max(1, 2 * o.warmup)} s (discarded)`);
          await rateRun(paths, v, Math.max(...o.connections), 0, {
            ...o,
            seconds: Math.max(1, 2 * o.warmup),
            warmup: 0,
          });
        }
        const cs = o.connections.map((_, i) => o.connections[(i + r) % o.connections.length]!);
        for (const c of cs) {
          p(`round ${r + 1}/${o.rounds} ${v}: ${o.rate} req/s on ${c} connection(s) for ${o.seconds} s`);
          const { run, us } = await rateRun(paths, v, c, r + 1, o);
          runs.push(run);
          const k = key(v, c);
          if (!pooled.has(k)) pooled.set(k, []);
          const arr = pooled.get(k)!;
          for (const x of us) arr.push(x);
        }
      }
    }
    // After the rounds, a phase that fails is reported, not allowed to lose the figures above.
    const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> =>
      fn().catch((err: unknown) => {
        failures.push(`${what}: ${errorMessage(err)}`);
        p(`${what} failed: ${errorMessage(err)}`);
        return undefined;
      });
    // Bulk: one transfer per mode per round, the modes' order rotated each round; each mode reports its
    // median round (one 2-s transfer on a shared machine moves by 30 %).
    const bulkRuns = new Map<Mode, BulkRun[]>();
    const bulkOrder = [...variants].reverse();
    if (o.bulkSeconds > 0)
      for (let r = 0; r < o.rounds; r++)
        for (const v of bulkOrder.map((_, i) => bulkOrder[(i + r) % bulkOrder.length]!))
          await guard(`bulk ${v} (round ${r + 1})`, async () => {
            p(`bulk ${r + 1}/${o.rounds} ${v}: one connection, ${o.bulkSeconds} s`);
            const runs = bulkRuns.get(v) ?? [];
            runs.push(await bulkRun(paths, v, o));
            bulkRuns.set(v, runs);
          });
    const bulk: BulkRun[] = [];
    for (const v of bulkOrder) {
      const rs = (bulkRuns.get(v) ?? []).sort((a, b) => a.mbPerSec - b.mbPerSec);
      if (rs.length > 0) bulk.push(rs[(rs.length - 1) >> 1]!);
    }
    const sweep =
      o.sweepConnections > 0
        ? await guard('sweep', () =>
            runSweep(
              paths,
              variants,
              {
                connections: o.sweepConnections,
                seconds: 2,
                warmup: 0.5,
                // From a quarter of the fixed rate, so a mode that cannot hold it still gets a figure.
                start: Math.max(1, Math.round(o.rate / 4)),
                max: o.sweepMax,
                size: o.size,
              },
              p,
            ),
          )
        : undefined;
    const memory =
      o.memPods > 0 && variants.includes('ambient') && variants.includes('sidecar')
        ? await guard('memory', () => runMemory(paths, o.memPods, p))
        : undefined;
    const sorted = new Map([...pooled].map(([k, us]) => [k, Float64Array.from(us).sort()]));
    const points = summarize(runs, variants, o.connections, (v, c) =>
      latencyOfSorted(sorted.get(key(v, c)) ?? new Float64Array()),
    );
    const summary = {} as LocalBenchReport['summary'];
    const curve = { quantiles: QUANTILES } as LocalBenchReport['curve'];
    for (const v of variants) {
      const pt = points.find((x) => x.mode === v && x.connections === ref);
      if (!pt) continue;
      summary[v] = {
        p50: pt.p50,
        p90: pt.p90,
        p99: pt.p99,
        p999: pt.p999,
        max: pt.max,
        errors: pt.errors,
        completed: pt.completed,
      };
      const s = sorted.get(key(v, ref)) ?? new Float64Array();
      curve[v] = QUANTILES.map((q) => percentile(s, q === 0 ? 1 / s.length : q) / 1000);
    }
    const over = (v: Mode): Added =>
      points.find((x) => x.mode === v && x.connections === ref)?.added ?? { p50: NaN, p90: NaN, p99: NaN };
    const refRuns = (v: Mode): RateRun[] => runs.filter((x) => x.variant === v && x.conns === ref);
    const added = over('ambient');
    let haproxy: LocalBenchReport['haproxy'];
    if (variants.includes('haproxy')) {
      const h = over('haproxy');
      const cpu = (v: Mode): number => median(refRuns(v).map((x) => sumCpu(x.procs)));
      const mb = (v: Mode): number => bulk.find((x) => x.variant === v)?.mbPerSec ?? NaN;
      haproxy = {
        added: h,
        ratios: {
          p50: added.p50 / h.p50,
          p90: added.p90 / h.p90,
          p99: added.p99 / h.p99,
          cpuPerRequest: cpu('ambient') / cpu('haproxy'),
          bulk: mb('ambient') / mb('haproxy'),
        },
      };
    }
    let waypoint: LocalBenchReport['waypoint'];
    if (variants.includes('waypoint') && variants.includes('ambient')) {
      const w = over('waypoint');
      const cpuOf = (v: Mode, pick: (u: Record<string, ProcUsage>) => number): number =>
        median(refRuns(v).map((x) => pick(x.procs)));
      const wpCpu = cpuOf('waypoint', (u) => u.waypoint?.cpuUsPerUnit ?? NaN);
      const ztCpu = cpuOf('ambient', (u) => sumCpu(u) / Math.max(1, Object.keys(u).length));
      // A negative figure is noise (no mesh's own tail above the mode's): no ratio then.
      const p90OverAmbient = w.p90 > 0 && added.p90 > 0 ? w.p90 / added.p90 : NaN;
      const ratio = wpCpu / ztCpu;
      let haproxyHop: NonNullable<LocalBenchReport['waypoint']>['haproxyHop'];
      if (variants.includes('haproxy-http') && variants.includes('haproxy')) {
        const hh = over('haproxy-http');
        const hp = over('haproxy');
        haproxyHop = {
          added: { p50: hh.p50 - hp.p50, p90: hh.p90 - hp.p90, p99: hh.p99 - hp.p99 },
          hopCpuUsPerRequest: cpuOf('haproxy-http', (u) => u['haproxy-h']?.cpuUsPerUnit ?? NaN),
        };
      }
      waypoint = {
        added: w,
        p90OverAmbient,
        cpuUsPerRequest: { waypoint: wpCpu, ztunnel: ztCpu, ratio },
        ...(haproxyHop ? { haproxyHop } : {}),
        goals: { p90: { limit: 2.5, met: p90OverAmbient <= 2.5 }, cpu: { limit: 4, met: ratio <= 4 } },
      };
    }
    const cpu = cpus();
    const { progress: _unused, ...settings } = o;
    return {
      meta: {
        date: new Date().toISOString(),
        nproc: cpu.length,
        cpuModel: cpu[0]?.model ?? '?',
        node: process.version,
        cluster: cluster.name,
        loadavg: loadavg(),
      },
      settings: {
        ...settings,
        pairs: Object.fromEntries(
          variants.map((v) => {
            const c = paths.clientOf(v);
            const sv = paths.serverOf(v);
            const t = paths.targetOf(v);
            return [
              v,
              `${c.namespace}/${c.name} (${c.node}) -> ${t[1]}:${t[3]} -> ${sv.namespace}/${sv.name} (${sv.node})`,
            ];
          }),
        ),
        request: `GET /bytes/${o.size}`,
        reference: ref,
      },
      runs,
      ...(failures.length ? { failures } : {}),
      points,
      bulk,
      ...(sweep ? { sweep } : {}),
      ...(memory ? { memory } : {}),
      goals: goalsOf(points, memory),
      summary,
      added,
      ...(haproxy ? { haproxy } : {}),
      ...(waypoint ? { waypoint } : {}),
      curve,
    };
  } finally {
    await paths.restore();
  }
}
