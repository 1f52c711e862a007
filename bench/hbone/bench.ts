/**
 * The HBONE two-hop tunnel benchmark: direct TCP vs our HBONE proxies vs haproxy with mutual TLS 1.3,
 * in one run, variants interleaved test by test and round by round so machine noise hits them alike.
 */
import { availableParallelism, cpus } from 'node:os';
import { haproxyAvailable, haproxyVersion } from './haproxy.js';
import type { LoadTest, TestKind, TestResult } from './protocol.js';
import { median } from './stats.js';
import { Topology, type Variant } from './topology.js';

export interface BenchOptions {
  rounds: number;
  /** Milliseconds per test per round. */
  durations: Record<TestKind, number>;
  /** Requests per second of the fixed-rate test, spread over `connections`. */
  rate: number;
  connections: number;
  tunnelWorkers: number;
  bulkChunk: number;
  haproxyThreads: number;
  /** A short untimed pass over every test and variant first (JIT warm-up, pools filled). */
  warmupMs: number;
  tests: readonly TestKind[];
  /** Which variants to measure (default: all that can run here). */
  variants?: readonly Variant[];
  proxyExecArgv?: readonly string[];
  log?: (line: string) => void;
}

export const TESTS: readonly TestKind[] = ['fixedRate', 'closedLoop', 'bulk', 'tunnels'];

export function defaultOptions(quick: boolean): BenchOptions {
  return {
    rounds: quick ? 1 : 3,
    durations: quick
      ? { fixedRate: 1500, closedLoop: 1000, bulk: 1000, tunnels: 700 }
      : { fixedRate: 5000, closedLoop: 3000, bulk: 3000, tunnels: 2000 },
    rate: 1000,
    connections: 4,
    tunnelWorkers: 4,
    bulkChunk: 64 * 1024,
    haproxyThreads: 1,
    warmupMs: quick ? 200 : 500,
    tests: TESTS,
  };
}

/** One test of one variant in one round, with the CPU each process spent on it. */
export interface RoundResult {
  round: number;
  variant: Variant;
  result: TestResult;
  /** CPU ms during the test: proxy A, proxy B, server, load generator. */
  cpuMs: { proxyA: number; proxyB: number; server: number; loadgen: number };
}

/** Medians over rounds. Latencies in ms; `perSec` is ops/s, or bytes/s for bulk. */
export interface Summary {
  p50?: number;
  p90?: number;
  p99?: number;
  serviceP50?: number;
  perSec: number;
  /** Cores used by the two proxies together while the test ran. */
  proxyCores: number;
  /** Proxy CPU (both hops) per operation, in µs (per MB for bulk). */
  proxyCpuUsPerOp: number;
  count: number;
  errors: number;
  firstError?: string;
}

export interface BenchReport {
  meta: {
    date: string;
    nproc: number;
    cpuModel: string;
    node: string;
    haproxy: string | undefined;
    openssl: string;
    haproxyThreads: number;
  };
  settings: Omit<BenchOptions, 'log' | 'proxyExecArgv'>;
  results: Partial<Record<Variant, Partial<Record<TestKind, Summary>>>>;
  rounds: RoundResult[];
}

function loadTest(kind: TestKind, port: number, ms: number, o: BenchOptions): LoadTest {
  switch (kind) {
    case 'fixedRate':
      return { kind, port, rate: o.rate, connections: o.connections, durationMs: ms };
    case 'closedLoop':
      return { kind, port, durationMs: ms };
    case 'bulk':
      return { kind, port, durationMs: ms, chunkSize: o.bulkChunk };
    case 'tunnels':
      return { kind, port, durationMs: ms, workers: o.tunnelWorkers };
  }
}

async function measure(top: Topology, variant: Variant, test: LoadTest, round: number): Promise<RoundResult> {
  const before = top.cpu(variant);
  const result = await top.run(test);
  const after = top.cpu(variant);
  const d = after.map((x, i) => x - before[i]!);
  return {
    round,
    variant,
    result,
    cpuMs: { proxyA: d[0]!, proxyB: d[1]!, server: d[2]!, loadgen: d[3]! },
  };
}

function summarize(kind: TestKind, rs: RoundResult[]): Summary {
  const m = (f: (r: RoundResult) => number | undefined): number => median(rs.map((r) => f(r) ?? NaN));
  const perOp = kind === 'bulk' ? 1e6 : 1; // bulk: per MB
  return {
    p50: rs[0]?.result.latencyMs ? m((r) => r.result.latencyMs?.p50) : undefined,
    p90: rs[0]?.result.latencyMs ? m((r) => r.result.latencyMs?.p90) : undefined,
    p99: rs[0]?.result.latencyMs ? m((r) => r.result.latencyMs?.p99) : undefined,
    serviceP50: rs[0]?.result.serviceMs ? m((r) => r.result.serviceMs?.p50) : undefined,
    perSec: m((r) => r.result.perSec),
    proxyCores: m((r) => (r.cpuMs.proxyA + r.cpuMs.proxyB) / r.result.elapsedMs),
    proxyCpuUsPerOp: m((r) =>
      r.result.count ? ((r.cpuMs.proxyA + r.cpuMs.proxyB) * 1000 * perOp) / r.result.count : NaN,
    ),
    count: rs.reduce((s, r) => s + r.result.count, 0),
    errors: rs.reduce((s, r) => s + r.result.errors, 0),
    firstError: rs.find((r) => r.result.firstError)?.result.firstError,
  };
}

/** Rotates `list` left by `k`, so each variant takes each position in turn. */
function rotate<T>(list: readonly T[], k: number): T[] {
  const n = list.length;
  return list.map((_, i) => list[(i + k) % n]!);
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const log = o.log ?? (() => {});
  const withHaproxy = haproxyAvailable() && (!o.variants || o.variants.includes('haproxy'));
  if (!withHaproxy) log('haproxy not found; measuring direct and hbone only');
  const top = await Topology.start({
    haproxyThreads: o.haproxyThreads,
    proxyExecArgv: o.proxyExecArgv,
    withHaproxy,
  });
  const rounds: RoundResult[] = [];
  try {
    const variants = top.variants.filter((v) => !o.variants || o.variants.includes(v));
    if (o.warmupMs > 0) {
      log(`warm-up: ${o.warmupMs} ms per test and variant`);
      for (const kind of o.tests)
        for (const v of variants) await top.run(loadTest(kind, top.ports.get(v)!, o.warmupMs, o));
    }
    for (let round = 0; round < o.rounds; round++) {
      for (const [ti, kind] of o.tests.entries()) {
        for (const v of rotate(variants, round + ti)) {
          const r = await measure(top, v, loadTest(kind, top.ports.get(v)!, o.durations[kind], o), round);
          rounds.push(r);
          log(
            `round ${round + 1}/${o.rounds} ${kind.padEnd(10)} ${v.padEnd(8)} ` +
              `${r.result.count} ops, ${r.result.errors} errors` +
              (r.result.latencyMs?.p50 != null ? `, p50 ${r.result.latencyMs.p50.toFixed(3)} ms` : '') +
              `, ${(kind === 'bulk' ? r.result.perSec / 1e6 : r.result.perSec).toFixed(1)}${kind === 'bulk' ? ' MB/s' : '/s'}` +
              `; cpu ms A ${r.cpuMs.proxyA} B ${r.cpuMs.proxyB} server ${r.cpuMs.server} loadgen ${r.cpuMs.loadgen}` +
              (r.result.firstError ? `; first error: ${r.result.firstError}` : ''),
          );
        }
      }
    }
    const results: BenchReport['results'] = {};
    for (const v of variants) {
      const per: Partial<Record<TestKind, Summary>> = {};
      for (const kind of o.tests)
        per[kind] = summarize(
          kind,
          rounds.filter((r) => r.variant === v && r.result.kind === kind),
        );
      results[v] = per;
    }
    const { log: _log, proxyExecArgv: _argv, ...settings } = o;
    return {
      meta: {
        date: new Date().toISOString(),
        nproc: availableParallelism(),
        cpuModel: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        haproxy: haproxyVersion(),
        openssl: process.versions.openssl,
        haproxyThreads: o.haproxyThreads,
      },
      settings,
      results,
      rounds,
    };
  } finally {
    await top.stop();
  }
}
