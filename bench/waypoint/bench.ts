/**
 * The waypoint's cost per request without the cluster: the local cluster's waypoint path rebuilt on
 * loopback, every box its own process, variants interleaved per round (order rotated):
 *
 *   direct:   loadgen ─────────────────────────────────────────────────────────────▶ echo
 *   ambient:  loadgen ─▶ ztunnel-client ══HBONE══▶ ztunnel-server (127.177.X.20:15008) ─▶ echo
 *   wp:NAME:  loadgen ─▶ ztunnel-client ══HBONE══▶ waypoint (127.177.X.10:15008, build NAME)
 *                                               ══HBONE══▶ ztunnel-server ─▶ echo
 *
 * Load: HTTP/1.1 GET /bytes/1024 at a fixed rate over keep-alive connections (bench/local/loadgen:
 * open loop, latency from the due time). Each process's CPU from /proc over the measured seconds.
 * Reports per variant the median over rounds of the waypoint's and each ztunnel's CPU µs/request and
 * the pooled p50/p90/p99, and the issue's ratios (waypoint-added p90 / ambient-added p90, waypoint
 * CPU / ztunnel CPU). run.ts is the command line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild, stopChild, type Child } from '../hbone/child.js';
import { median, percentile } from '../hbone/stats.js';
import { runRate } from '../local/loadgen.js';
import { sampleProc } from '../local/proc-stats.js';
import { writeMaterials } from './materials.js';

/** A waypoint build to measure: `root` is a compiled tree (the directory holding src/waypoint/app.js). */
export interface Build {
  name: string;
  root: string;
  accessLog: boolean;
  /** Extra Node.js flags for the waypoint process. */
  nodeArgs: string[];
}

export interface BenchOptions {
  rounds: number;
  seconds: number;
  warmupSeconds: number;
  rate: number;
  conns: number;
  builds: Build[];
  /** Write a V8 CPU profile of each waypoint process here. */
  cpuProfDir?: string;
  /** Progress lines (one per variant and round). */
  progress?: (line: string) => void;
}

export interface VariantResult {
  variant: string;
  p50: number;
  p90: number;
  p99: number;
  completed: number;
  errors: number;
  cpuUsPerRequest: Record<string, number>;
  cpuUsPerRound: Record<string, number[]>;
}

export interface BenchReport {
  date: string;
  node: string;
  rate: number;
  conns: number;
  seconds: number;
  rounds: number;
  table: VariantResult[];
  ratios: Array<{ build: string; accessLog: boolean; p90Ratio: number; cpuRatio: number }>;
  text: string;
}

/** This compiled tree (dist/). */
export const THIS_BUILD = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

/** `NAME=DIST_ROOT[@nolog][@semiN]`, comma-separated. */
export function parseBuilds(spec: string): Build[] {
  return spec.split(',').map((s) => {
    const eq = s.indexOf('=');
    const [name, rest] = eq < 0 ? [s, ''] : [s.slice(0, eq), s.slice(eq + 1)];
    const [root = '', ...flags] = rest.split('@');
    const semi = flags.find((f) => f.startsWith('semi'))?.slice(4);
    // `@--flag` passes a Node/V8 flag to that waypoint (e.g. @--single-threaded-gc).
    const extra = flags.filter((f) => f.startsWith('--'));
    return {
      name,
      root: resolve(root),
      accessLog: !flags.includes('nolog'),
      nodeArgs: [...(semi ? [`--max-semi-space-size=${semi}`] : []), ...extra],
    };
  });
}

// The third octet from the pid: two runs at once (a bench beside the test suite's smoke run) do not
// collide on :15008.
const NET = `127.177.${process.pid % 250}`;
const WP_IP = `${NET}.10`;
const POD_IP = `${NET}.20`;
const VIP = '10.96.177.10';

interface RoundResult {
  variant: string;
  cpuUs: Record<string, number>;
  latencyUs: number[];
  errors: number;
  completed: number;
}

const file = (f: string): URL => new URL(f, import.meta.url);
const ms = (us: number): number => Number((us / 1000).toFixed(3));

async function runVariant(o: BenchOptions, variant: string, dir: string): Promise<RoundResult> {
  const children: Child[] = [];
  let logSink: ChildProcess | undefined;
  try {
    const echo = await startChild('echo', file('./ends.js'), ['echo', POD_IP]);
    children.push(echo);
    let port = echo.port;
    const measured: Record<string, number> = {};
    if (variant !== 'direct') {
      const zs = await startChild('ztunnel-server', file('./ends.js'), ['ztunnel-server', dir, POD_IP]);
      children.push(zs);
      measured['ztunnel-server'] = zs.proc.pid!;
      const build = o.builds.find((b) => `wp:${b.name}` === variant);
      if (build) {
        const prof = o.cpuProfDir
          ? [
              '--cpu-prof',
              '--cpu-prof-dir',
              o.cpuProfDir,
              '--cpu-prof-name',
              `${build.name}-${Date.now()}.cpuprofile`,
            ]
          : [];
        // The waypoint logs to its stdout, a pipe into another process that appends it to a file: as
        // in the local cluster, where the kubelet reads each pod's stdout into its log file.
        logSink = spawn('sh', ['-c', 'exec cat >> "$0"', join(dir, `${build.name}.log`)], {
          stdio: ['pipe', 'ignore', 'inherit'],
        });
        const args = [build.root, dir, WP_IP, VIP, POD_IP, String(echo.port), build.accessLog ? 'on' : 'off'];
        const wp = await startChild(
          'waypoint',
          file('./waypoint-child.js'),
          args,
          [...build.nodeArgs, ...prof],
          15_000,
          logSink.stdin!,
        );
        children.push(wp);
        measured.waypoint = wp.proc.pid!;
      }
      const zc = await startChild('ztunnel-client', file('./ends.js'), [
        'ztunnel-client',
        dir,
        build ? WP_IP : POD_IP,
        build ? 'waypoint' : 'server',
        build ? `${VIP}:80` : `${POD_IP}:${echo.port}`,
      ]);
      children.push(zc);
      measured['ztunnel-client'] = zc.proc.pid!;
      port = zc.port;
    }
    const host = variant === 'direct' ? POD_IP : '127.0.0.1';
    const base = { host, port, rate: o.rate, conns: o.conns, size: 1024, warmup: 0 };
    await runRate({ ...base, seconds: o.warmupSeconds }); // JIT, pools, tunnels
    const cpu = (pid: number): number => sampleProc(pid)?.cpuSeconds ?? NaN;
    const before = Object.fromEntries(Object.entries(measured).map(([k, pid]) => [k, cpu(pid)]));
    const r = await runRate({ ...base, seconds: o.seconds });
    const cpuUs: Record<string, number> = {};
    for (const [k, pid] of Object.entries(measured))
      cpuUs[k] = ((cpu(pid) - before[k]!) * 1e6) / Math.max(1, r.completed);
    return { variant, cpuUs, latencyUs: r.latencyUs, errors: r.errors, completed: r.completed };
  } finally {
    for (const c of children.reverse()) await stopChild(c.proc);
    logSink?.stdin?.end();
  }
}

export async function runWaypointBench(o: BenchOptions): Promise<BenchReport> {
  const variants = ['direct', 'ambient', ...o.builds.map((b) => `wp:${b.name}`)];
  const dir = mkdtempSync(join(tmpdir(), 'meshlite-wp-bench-'));
  writeMaterials(dir);
  const rounds: RoundResult[] = [];
  try {
    for (let round = 0; round < o.rounds; round++) {
      const k = round % variants.length;
      for (const v of [...variants.slice(k), ...variants.slice(0, k)]) {
        const r = await runVariant(o, v, dir);
        rounds.push(r);
        const lat = [...r.latencyUs].sort((a, b) => a - b);
        const cpu = Object.entries(r.cpuUs)
          .map(([p, us]) => `${p} ${us.toFixed(0)}`)
          .join(', ');
        o.progress?.(
          `round ${round + 1} ${v.padEnd(12)} p50 ${ms(percentile(lat, 0.5))} p90 ${ms(percentile(lat, 0.9))} p99 ${ms(percentile(lat, 0.99))} ms, ${r.completed} ok, ${r.errors} err; CPU µs/req: ${cpu || '-'}`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const table: VariantResult[] = variants.map((v) => {
    const rs = rounds.filter((r) => r.variant === v);
    const lat = rs.flatMap((r) => r.latencyUs).sort((a, b) => a - b);
    const procs = Object.keys(rs[0]?.cpuUs ?? {});
    return {
      variant: v,
      p50: ms(percentile(lat, 0.5)),
      p90: ms(percentile(lat, 0.9)),
      p99: ms(percentile(lat, 0.99)),
      completed: rs.reduce((n, r) => n + r.completed, 0),
      errors: rs.reduce((n, r) => n + r.errors, 0),
      cpuUsPerRequest: Object.fromEntries(
        procs.map((p) => [p, Number(median(rs.map((r) => r.cpuUs[p]!)).toFixed(1))]),
      ),
      cpuUsPerRound: Object.fromEntries(procs.map((p) => [p, rs.map((r) => Number(r.cpuUs[p]!.toFixed(1)))])),
    };
  });
  const by = (v: string): VariantResult => table.find((t) => t.variant === v)!;
  const direct = by('direct');
  const ambient = by('ambient');
  const ztunnelCpu =
    (ambient.cpuUsPerRequest['ztunnel-client']! + ambient.cpuUsPerRequest['ztunnel-server']!) / 2;
  const lines = ['variant          p50     p90     p99  err   CPU µs/req (median of rounds)'];
  for (const t of table)
    lines.push(
      `${t.variant.padEnd(14)} ${t.p50.toFixed(3).padStart(6)}  ${t.p90.toFixed(3).padStart(6)}  ${t.p99.toFixed(3).padStart(6)}  ${String(t.errors).padStart(3)}   ${Object.entries(
        t.cpuUsPerRequest,
      )
        .map(([p, us]) => `${p} ${us}`)
        .join(', ')}`,
    );
  const ratios = o.builds.map((b) => {
    const w = by(`wp:${b.name}`);
    const p90 = (w.p90 - direct.p90) / (ambient.p90 - direct.p90);
    const cpu = w.cpuUsPerRequest.waypoint! / ztunnelCpu;
    lines.push(
      `wp:${b.name}: waypoint added p90 / ambient added p90 ${p90.toFixed(2)}x (goal <= 2.5x); waypoint CPU ${w.cpuUsPerRequest.waypoint} µs/req = ${cpu.toFixed(2)}x a ztunnel's ${ztunnelCpu.toFixed(0)} (goal <= 4x)`,
    );
    return {
      build: b.name,
      accessLog: b.accessLog,
      p90Ratio: Number(p90.toFixed(2)),
      cpuRatio: Number(cpu.toFixed(2)),
    };
  });
  return {
    date: new Date().toISOString(),
    node: process.version,
    rate: o.rate,
    conns: o.conns,
    seconds: o.seconds,
    rounds: o.rounds,
    table,
    ratios,
    text: lines.join('\n'),
  };
}
