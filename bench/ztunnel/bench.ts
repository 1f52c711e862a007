/**
 * The ztunnel benchmark: HTTP/1.1 through two ztunnels (client pod → SOCKS5 of node-1 → HBONE →
 * node-2 → server pod) with --workers 1 and --workers 2, against direct and the haproxy two-hop
 * reference, in one run, variants interleaved test by test and round by round.
 */
import { availableParallelism, cpus } from 'node:os';
import { haproxyAvailable, haproxyVersion } from '../hbone/haproxy.js';
import type { Percentiles } from '../hbone/protocol.js';
import { median } from '../hbone/stats.js';
import type { ZtLoadTest, ZtTestResult } from './protocol.js';
import { ZtTopology, type ZtPairSpec, type ZtVariant } from './topology.js';

export interface ZtBenchOptions {
  rounds: number;
  fixedRateMs: number;
  connRateMs: number;
  rate: number;
  connections: number;
  /** Concurrent loops of the new-connection test. */
  connWorkers: number;
  /** Idle tunnels held for the memory measurement (0: skip it). */
  idleCount: number;
  warmupMs: number;
  /** ztunnel pairs: --workers N and the cluster scheduling policy. */
  pairs: readonly ZtPairSpec[];
  haproxyThreads: number;
  /** Second octet of the ztunnels' loopback addresses (pair i uses net + i). */
  net: number;
  log?: (line: string) => void;
}

export function defaultZtOptions(quick: boolean): ZtBenchOptions {
  return {
    rounds: quick ? 1 : 3,
    fixedRateMs: quick ? 1500 : 5000,
    connRateMs: quick ? 700 : 2000,
    rate: 1000,
    connections: 4,
    connWorkers: 8,
    idleCount: quick ? 200 : 1000,
    warmupMs: quick ? 200 : 500,
    pairs: [{ workers: 1 }, { workers: 2 }, { workers: 2, sched: 'none' }],
    haproxyThreads: 1,
    net: 91,
  };
}

export interface Measured {
  round: number;
  variant: ZtVariant;
  result: ZtTestResult;
  /** CPU ms during the test: client-side proxy (all its processes), server-side proxy, server, load generator. */
  cpuMs: { a: number; b: number; server: number; loadgen: number };
}

export interface IdleMeasured {
  variant: ZtVariant;
  tunnels: number;
  errors: number;
  firstError?: string;
  /** RSS growth (KiB) of each proxy while the tunnels were held. */
  rssDeltaKb: { a: number; b: number };
}

export interface VariantSummary {
  fixed?: {
    latencyMs: Percentiles;
    serviceP50: number;
    /** CPU ms per request = CPU seconds per 1000 requests = vCPU at 1000 req/s. */
    cpuMsPerReqA: number;
    cpuMsPerReqB: number;
  };
  conn?: {
    perSec: number;
    p50: number;
    cpuMsPerConnA: number;
    cpuMsPerConnB: number;
    coresA: number;
    coresB: number;
  };
  idle?: { kbPerTunnelA: number; kbPerTunnelB: number };
  count: number;
  errors: number;
  firstError?: string;
}

export interface ZtBenchReport {
  meta: {
    date: string;
    nproc: number;
    cpuModel: string;
    node: string;
    haproxy: string | undefined;
    elapsedS: number;
  };
  settings: Omit<ZtBenchOptions, 'log'>;
  results: Record<ZtVariant, VariantSummary>;
  rounds: Measured[];
  idle: IdleMeasured[];
}

function rotate<T>(list: readonly T[], k: number): T[] {
  return list.map((_, i) => list[(i + k) % list.length]!);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function measure(top: ZtTopology, v: ZtVariant, test: ZtLoadTest, round: number): Promise<Measured> {
  const before = top.cpu(v);
  const result = await top.run(test);
  const d = top.cpu(v).map((x, i) => x - before[i]!);
  const gone = top.ztunnels.filter((z) => z.exited);
  if (gone.length)
    throw new Error(
      `bench: ${gone.map((z) => z.opts.node + '@' + z.opts.nodeIp).join(', ')} exited during ${v} ${test.kind}`,
    );
  return { round, variant: v, result, cpuMs: { a: d[0]!, b: d[1]!, server: d[2]!, loadgen: d[3]! } };
}

async function measureIdle(top: ZtTopology, v: ZtVariant, count: number): Promise<IdleMeasured> {
  await sleep(300);
  const [a0, b0] = top.rss(v);
  const r = await top.run({ kind: 'idleOpen', target: top.targets.get(v)!, count });
  await sleep(500);
  const [a1, b1] = top.rss(v);
  await top.run({ kind: 'idleClose' });
  return {
    variant: v,
    tunnels: r.count,
    errors: r.errors,
    firstError: r.firstError,
    rssDeltaKb: { a: a1 - a0, b: b1 - b0 },
  };
}

function summarize(v: ZtVariant, rs: Measured[], idle: IdleMeasured | undefined): VariantSummary {
  const fixed = rs.filter((r) => r.variant === v && r.result.kind === 'fixedRate');
  const conn = rs.filter((r) => r.variant === v && r.result.kind === 'connRate');
  const m = (list: Measured[], f: (r: Measured) => number | undefined): number =>
    median(list.map((r) => f(r) ?? NaN));
  const all = [...fixed, ...conn];
  const s: VariantSummary = {
    count: all.reduce((n, r) => n + r.result.count, 0),
    errors: all.reduce((n, r) => n + r.result.errors, 0) + (idle?.errors ?? 0),
    firstError: all.find((r) => r.result.firstError)?.result.firstError ?? idle?.firstError,
  };
  if (fixed.length)
    s.fixed = {
      latencyMs: {
        p50: m(fixed, (r) => r.result.latencyMs?.p50),
        p90: m(fixed, (r) => r.result.latencyMs?.p90),
        p99: m(fixed, (r) => r.result.latencyMs?.p99),
        max: m(fixed, (r) => r.result.latencyMs?.max),
      },
      serviceP50: m(fixed, (r) => r.result.serviceMs?.p50),
      cpuMsPerReqA: m(fixed, (r) => r.cpuMs.a / r.result.count),
      cpuMsPerReqB: m(fixed, (r) => r.cpuMs.b / r.result.count),
    };
  if (conn.length)
    s.conn = {
      perSec: m(conn, (r) => r.result.perSec),
      p50: m(conn, (r) => r.result.latencyMs?.p50),
      cpuMsPerConnA: m(conn, (r) => r.cpuMs.a / r.result.count),
      cpuMsPerConnB: m(conn, (r) => r.cpuMs.b / r.result.count),
      coresA: m(conn, (r) => r.cpuMs.a / r.result.elapsedMs),
      coresB: m(conn, (r) => r.cpuMs.b / r.result.elapsedMs),
    };
  if (idle && idle.tunnels > 0)
    s.idle = {
      kbPerTunnelA: idle.rssDeltaKb.a / idle.tunnels,
      kbPerTunnelB: idle.rssDeltaKb.b / idle.tunnels,
    };
  return s;
}

export async function runZtBench(o: ZtBenchOptions): Promise<ZtBenchReport> {
  const log = o.log ?? (() => {});
  const started = Date.now();
  const withHaproxy = haproxyAvailable();
  if (!withHaproxy) log('haproxy not found; measuring direct and ztunnel only');
  const top = await ZtTopology.start({
    pairs: o.pairs,
    withHaproxy,
    haproxyThreads: o.haproxyThreads,
    net: o.net,
  });
  const rounds: Measured[] = [];
  const idle: IdleMeasured[] = [];
  try {
    const variants = top.variants;
    const fixed = (v: ZtVariant, ms: number): ZtLoadTest => ({
      kind: 'fixedRate',
      target: top.targets.get(v)!,
      rate: o.rate,
      connections: o.connections,
      durationMs: ms,
    });
    const conn = (v: ZtVariant, ms: number): ZtLoadTest => ({
      kind: 'connRate',
      target: top.targets.get(v)!,
      durationMs: ms,
      workers: o.connWorkers,
    });
    // Memory first, while the proxies' heaps hold nothing from the load tests.
    if (o.idleCount > 0)
      for (const v of variants.filter((x) => x !== 'direct')) {
        const r = await measureIdle(top, v, o.idleCount);
        idle.push(r);
        log(
          `idle      ${v.padEnd(11)} ${r.tunnels} tunnels, ${r.errors} errors, RSS +${r.rssDeltaKb.a} KiB (client side) ` +
            `+${r.rssDeltaKb.b} KiB (server side)${r.firstError ? `; first error: ${r.firstError}` : ''}`,
        );
      }
    if (o.warmupMs > 0) {
      log(`warm-up: ${o.warmupMs} ms per test and variant`);
      for (const v of variants) {
        await top.run(fixed(v, o.warmupMs));
        await top.run(conn(v, o.warmupMs));
      }
    }
    const tests = [(v: ZtVariant) => fixed(v, o.fixedRateMs), (v: ZtVariant) => conn(v, o.connRateMs)];
    for (let round = 0; round < o.rounds; round++)
      for (const [ti, make] of tests.entries())
        for (const v of rotate(variants, round + ti)) {
          const r = await measure(top, v, make(v), round);
          rounds.push(r);
          log(
            `round ${round + 1}/${o.rounds} ${r.result.kind.padEnd(9)} ${v.padEnd(11)} ${r.result.count} ops, ` +
              `${r.result.errors} errors, p50 ${r.result.latencyMs?.p50?.toFixed(3)} ms, ${r.result.perSec.toFixed(0)}/s; ` +
              `cpu ms A ${r.cpuMs.a} B ${r.cpuMs.b} server ${r.cpuMs.server} loadgen ${r.cpuMs.loadgen}` +
              (r.result.firstError ? `; first error: ${r.result.firstError}` : ''),
          );
        }
    const results: Record<ZtVariant, VariantSummary> = {};
    for (const v of variants)
      results[v] = summarize(
        v,
        rounds,
        idle.find((i) => i.variant === v),
      );
    const { log: _log, ...settings } = o;
    return {
      meta: {
        date: new Date().toISOString(),
        nproc: availableParallelism(),
        cpuModel: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        haproxy: withHaproxy ? haproxyVersion() : undefined,
        elapsedS: Math.round((Date.now() - started) / 1000),
      },
      settings,
      results,
      rounds,
      idle,
    };
  } finally {
    await top.stop();
  }
}
