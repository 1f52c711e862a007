/**
 * `meshctl bench` on a running local cluster: default/curl (node-1) -> Service echo (node-2), no mesh
 * (namespace default unlabelled) against ambient L4 (labelled), ambient with the namespace's waypoint
 * (`istio.io/use-waypoint`), a pair of haproxy processes with mutual TLS in the same two pods
 * (unlabelled) and the same with an haproxy `mode http` hop in the waypoint's pod (the C reference for
 * the waypoint), alternating in one run, plus one-connection bulk
 * throughput for each. The load generator runs inside the client pod (meshctl exec); proxy CPU and
 * memory come from /proc/<pid> (the ztunnels' pids in cluster.json, the haproxies').
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { DIST_SRC } from '../../src/local/cluster/cluster.js';
import type { ClusterFile } from '../../src/local/cluster/state.js';
import { runCommand } from '../../src/local/netns/index.js';
import { median, percentile } from '../hbone/stats.js';
import type { BulkOutput, RateOutput } from './loadgen.js';
import { ProcWatch, type ProcUsage } from './proc-stats.js';
import { haproxyAvailable } from '../hbone/haproxy.js';
import {
  HAPROXY_A2_PORT,
  HAPROXY_A_PORT,
  startHaproxyHttpHop,
  startHaproxyPair,
  type HaproxyPair,
} from './haproxy-pair.js';
import { readClusterFile } from '../../src/local/cluster/state.js';

export const VARIANTS = ['no-mesh', 'ambient', 'waypoint', 'haproxy', 'haproxy-http'] as const;
export type Variant = (typeof VARIANTS)[number];
const LABEL = 'istio.io/dataplane-mode';
const USE_WAYPOINT = 'istio.io/use-waypoint';
const WAYPOINT = 'waypoint';
const isHaproxy = (v: Variant): boolean => v === 'haproxy' || v === 'haproxy-http';

export interface LocalBenchOptions {
  rounds: number;
  /** Measured seconds per fixed-rate run (after `warmup` seconds that are not counted). */
  seconds: number;
  warmup: number;
  rate: number;
  conns: number;
  size: number;
  bulkSeconds: number;
  /** Which variants to run (haproxy only where it is installed). */
  variants: readonly Variant[];
  progress: (msg: string) => void;
}

export function defaultLocalOptions(quick: boolean, progress: (m: string) => void): LocalBenchOptions {
  const variants = VARIANTS.filter((v) => !isHaproxy(v) || haproxyAvailable());
  return quick
    ? {
        rounds: 1,
        seconds: 2,
        warmup: 0.5,
        rate: 1000,
        conns: 4,
        size: 1024,
        bulkSeconds: 1,
        variants,
        progress,
      }
    : {
        rounds: 3,
        seconds: 8,
        warmup: 1,
        rate: 1000,
        conns: 4,
        size: 1024,
        bulkSeconds: 3,
        variants,
        progress,
      };
}

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface RateRun {
  variant: Variant;
  round: number;
  /** Milliseconds, from the due time. */
  latency: Latency;
  /** Milliseconds, from the actual write. */
  service: Latency;
  completed: number;
  errors: number;
  rps: number;
  /** The proxies of the variant: the two ztunnels (ambient; also watched without mesh), or the haproxies. */
  ztunnels: Record<string, ProcUsage>;
}

export interface BulkRun {
  variant: Variant;
  mbPerSec: number;
  errors: number;
  ztunnels: Record<string, ProcUsage>;
}

export interface LocalBenchReport {
  meta: { date: string; nproc: number; cpuModel: string; node: string; cluster: string };
  settings: Omit<LocalBenchOptions, 'progress'> & { client: string; server: string; target: string };
  runs: RateRun[];
  bulk: BulkRun[];
  /** Pooled over all rounds, ms. */
  summary: Partial<Record<Variant, Latency & { errors: number; completed: number }>>;
  /** Ambient over no mesh, ms. */
  added: { p50: number; p90: number; p99: number };
  /** The haproxy pair over no mesh, ms, and ambient's added latency, CPU and bulk as ratios of its. */
  haproxy?: {
    added: { p50: number; p90: number; p99: number };
    ratios: { p50: number; p90: number; p99: number; cpuPerRequest: number; bulk: number };
  };
  /** The waypoint path against ambient L4 and against the haproxy HTTP hop (issue 10's goals). */
  waypoint?: {
    added: { p50: number; p90: number; p99: number };
    /** Added p90 over ambient L4's added p90 (goal <= 2.5). */
    p90OverAmbient: number;
    /** CPU µs per request (median of rounds): the waypoint, one ztunnel (mean of the two, ambient L4). */
    cpuUsPerRequest: { waypoint: number; ztunnel: number; ratio: number };
    /** The haproxy HTTP hop over the haproxy pair, ms; and its CPU µs per request. */
    haproxyHop?: { added: { p50: number; p90: number; p99: number }; hopCpuUsPerRequest: number };
    goals: { p90: { limit: number; met: boolean }; cpu: { limit: number; met: boolean } };
  };
  goals: { p90: { limitMs: number; met: boolean }; p99: { limitMs: number; met: boolean } };
  /** Latency (ms) at each quantile, pooled: for the plot. */
  curve: { quantiles: number[] } & Partial<Record<Variant, number[]>>;
}

const QUANTILES = [
  0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.965, 0.975, 0.98, 0.985, 0.99,
  0.9925, 0.995, 0.997, 0.998, 0.999,
];

function latencyOf(us: number[]): Latency {
  const s = Float64Array.from(us).sort();
  const q = (x: number): number => percentile(s, x) / 1000;
  return {
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    p999: q(0.999),
    max: s.length ? s[s.length - 1]! / 1000 : NaN,
  };
}

/** CPU µs per request of a run's proxies together (both ztunnels, or both haproxies). */
function sumCpu(u: Record<string, ProcUsage>): number {
  return Object.values(u).reduce((a, x) => a + (x.cpuUsPerUnit ?? 0), 0);
}

/**
 * The Namespace object file istiod watches; the labels decide ambient or not and whether its services
 * use the waypoint (at runtime).
 */
export async function setAmbient(configDir: string, on: boolean, waypoint = false): Promise<void> {
  const file = join(configDir, 'namespace-default.yaml');
  const obj = (parse(await readFile(file, 'utf8').catch(() => '')) ?? {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'default' },
  }) as { metadata: { labels?: Record<string, string> } };
  const labels = { ...(obj.metadata.labels ?? {}) };
  if (on) labels[LABEL] = 'ambient';
  else delete labels[LABEL];
  if (on && waypoint) labels[USE_WAYPOINT] = WAYPOINT;
  else delete labels[USE_WAYPOINT];
  obj.metadata.labels = labels;
  await writeFile(file, stringify(obj));
}

export async function isAmbient(configDir: string): Promise<boolean> {
  const text = await readFile(join(configDir, 'namespace-default.yaml'), 'utf8').catch(() => '');
  const obj = parse(text) as { metadata?: { labels?: Record<string, string> } } | null;
  return obj?.metadata?.labels?.[LABEL] === 'ambient';
}

async function captured(netns: string): Promise<boolean> {
  return runCommand('ip', ['netns', 'exec', netns, 'nft', 'list', 'table', 'ip', 'ztunnel_capture']).then(
    () => true,
    () => false,
  );
}

async function waitUntil(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`meshctl bench: timed out waiting for ${what}; see the ztunnel logs`);
}

/** Runs the load generator in the client pod through `meshctl exec`; returns its JSON. */
/** `meshctl ARGS` as a user runs it; its exit code and output. */
async function meshctl(args: string[]): Promise<{ code: number; out: string }> {
  const child = spawn(process.execPath, [join(DIST_SRC, 'meshctl/main.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code: code ?? 1, out };
}

export async function loadgen<T>(stateDir: string, args: string[]): Promise<T> {
  const child = spawn(
    process.execPath,
    [
      join(DIST_SRC, 'meshctl/main.js'),
      'exec',
      '--state-dir',
      stateDir,
      'default/curl',
      '--',
      process.execPath,
      join(DIST_SRC, '../bench/local/loadgen.js'),
      ...args,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{'))
    throw new Error(`meshctl bench: the load generator failed (${code}): ${err.trim()}`);
  return JSON.parse(line) as T;
}

export async function runLocalBench(cluster: ClusterFile, o: LocalBenchOptions): Promise<LocalBenchReport> {
  const p = o.progress;
  const client = cluster.pods.find((x) => x.namespace === 'default' && x.deployment === 'curl');
  const server = cluster.pods.find((x) => x.namespace === 'default' && x.deployment === 'echo');
  const svc = cluster.services.find((s) => s.namespace === 'default' && s.name === 'echo');
  if (!client || !server || !svc)
    throw new Error('meshctl bench: needs default/curl, default/echo and Service echo (the demo config)');
  const port = svc.ports[0]?.port ?? 8080;
  const configDir = join(cluster.stateDir, 'config');
  const pids = new Map<string, number>();
  for (const n of cluster.nodes) if (n.ztunnel.pid) pids.set(n.name, n.ztunnel.pid);
  const wasAmbient = await isAmbient(configDir);
  const variants = o.variants;
  const appPort = svc.ports[0]?.targetPort ?? port;
  // The waypoint variants need the namespace's waypoint (created here if missing, removed at the end).
  const needWaypoint = variants.includes('waypoint') || variants.includes('haproxy-http');
  const findWaypoint = async () =>
    (await readClusterFile(cluster.stateDir))?.pods.find(
      (x) => x.namespace === 'default' && x.name.startsWith(`${WAYPOINT}-`) && x.pids.length > 0,
    );
  let wpPod = needWaypoint ? await findWaypoint() : undefined;
  let createdWaypoint = false;
  if (needWaypoint && !wpPod) {
    p('creating the waypoint of namespace default (meshctl waypoint apply -n default --wait)');
    const r = await meshctl(['waypoint', 'apply', '-n', 'default', '--wait', '--config-dir', configDir]);
    if (r.code !== 0) throw new Error(`meshctl bench: meshctl waypoint apply failed: ${r.out.trim()}`);
    createdWaypoint = true;
    await waitUntil('the waypoint pod', async () => (wpPod = await findWaypoint()) !== undefined, 60_000);
  }
  if (wpPod) pids.set('waypoint', wpPod.pids[0]!);
  type Mode = 'off' | 'ambient' | 'waypoint';
  let current: Mode | undefined;
  let pair: HaproxyPair | undefined;
  let hop: HaproxyPair | undefined;
  const modeOf = (v: Variant): Mode => (v === 'ambient' || v === 'waypoint' ? v : 'off');
  const switchTo = async (v: Variant): Promise<void> => {
    const mode = modeOf(v);
    if (v === 'haproxy' && !pair) {
      pair = startHaproxyPair(client, server, appPort);
      p(
        `haproxy pair: A in ${client.name} (127.0.0.1:${HAPROXY_A_PORT}) -> mutual TLS -> B in ${server.name}`,
      );
    }
    if (v === 'haproxy-http' && !hop && wpPod) {
      hop = startHaproxyHttpHop(client, wpPod, server, appPort);
      p(
        `haproxy http hop: A in ${client.name} -> mutual TLS -> H (mode http) in ${wpPod.name} -> mutual TLS -> B in ${server.name}`,
      );
    }
    if (current !== mode) {
      const on = mode !== 'off';
      await setAmbient(configDir, on, mode === 'waypoint');
      for (const pod of [client, server])
        await waitUntil(
          `${pod.name} to be ${on ? 'enrolled' : 'released'}`,
          async () => (await captured(pod.netns)) === on,
        );
      current = mode;
    }
    await waitUntil(`${v} to answer`, () => answers(v));
  };
  const targetOf = (v: Variant): string[] =>
    v === 'haproxy'
      ? ['--host', '127.0.0.1', '--port', String(HAPROXY_A_PORT)]
      : v === 'haproxy-http'
        ? ['--host', '127.0.0.1', '--port', String(HAPROXY_A2_PORT)]
        : ['--host', svc.clusterIP, '--port', String(port)];
  // Through the waypoint (and only then) echo sees the x-request-id it adds: the switch has happened.
  const answers = (v: Variant): Promise<boolean> =>
    runCommand('ip', [
      'netns',
      'exec',
      client.netns,
      'curl',
      '-sS',
      '--max-time',
      '2',
      `http://${targetOf(v)[1]}:${targetOf(v)[3]}/`,
    ]).then(
      (r) => r.stdout.includes('"x-request-id"') === (v === 'waypoint'),
      () => false,
    );
  const zt = new Map([...pids].filter(([k]) => k !== 'waypoint'));
  const watchOf = (v: Variant): ProcWatch =>
    new ProcWatch(
      v === 'haproxy' && pair
        ? pair.pids
        : v === 'haproxy-http' && hop
          ? hop.pids
          : v === 'waypoint'
            ? pids
            : zt,
    );
  const runs: RateRun[] = [];
  const pooled: Partial<Record<Variant, number[]>> = {};
  try {
    for (let r = 0; r < o.rounds; r++) {
      // Rotated per round, so machine noise and warm-up hit every variant alike.
      const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
      for (const v of order) {
        await switchTo(v);
        p(`round ${r + 1}/${o.rounds} ${v}: ${o.rate} req/s on ${o.conns} connections for ${o.seconds} s`);
        const watch = watchOf(v);
        watch.begin();
        const g = await loadgen<RateOutput>(cluster.stateDir, [
          '--mode',
          'rate',
          ...targetOf(v),
          '--rate',
          String(o.rate),
          '--conns',
          String(o.conns),
          '--seconds',
          String(o.seconds),
          '--warmup',
          String(o.warmup),
          '--size',
          String(o.size),
        ]);
        const zt = watch.end(g.sent);
        (pooled[v] ??= []).push(...g.latencyUs);
        runs.push({
          variant: v,
          round: r + 1,
          latency: latencyOf(g.latencyUs),
          service: latencyOf(g.serviceUs),
          completed: g.completed,
          errors: g.errors,
          rps: g.completed / g.seconds,
          ztunnels: zt,
        });
      }
    }
    const bulk: BulkRun[] = [];
    for (const v of current ? [...variants].reverse() : variants) {
      await switchTo(v);
      p(`bulk ${v}: one connection, ${o.bulkSeconds} s`);
      const watch = watchOf(v);
      watch.begin();
      const g = await loadgen<BulkOutput>(cluster.stateDir, [
        '--mode',
        'bulk',
        ...targetOf(v),
        '--seconds',
        String(o.bulkSeconds),
      ]);
      const mb = g.bytes / 1e6;
      bulk.push({ variant: v, mbPerSec: mb / g.seconds, errors: g.errors, ztunnels: watch.end(mb) });
    }
    const summary = {} as LocalBenchReport['summary'];
    const curve = { quantiles: QUANTILES } as LocalBenchReport['curve'];
    for (const v of variants) {
      const mine = runs.filter((x) => x.variant === v);
      const us = pooled[v] ?? [];
      summary[v] = {
        ...latencyOf(us),
        errors: mine.reduce((a, x) => a + x.errors, 0),
        completed: mine.reduce((a, x) => a + x.completed, 0),
      };
      const s = Float64Array.from(us).sort();
      curve[v] = QUANTILES.map((q) => percentile(s, q === 0 ? 1 / s.length : q) / 1000);
    }
    const over = (v: Variant): { p50: number; p90: number; p99: number } => ({
      p50: (summary[v]?.p50 ?? NaN) - (summary['no-mesh']?.p50 ?? NaN),
      p90: (summary[v]?.p90 ?? NaN) - (summary['no-mesh']?.p90 ?? NaN),
      p99: (summary[v]?.p99 ?? NaN) - (summary['no-mesh']?.p99 ?? NaN),
    });
    const added = over('ambient');
    let haproxy: LocalBenchReport['haproxy'];
    if (variants.includes('haproxy')) {
      const h = over('haproxy');
      const cpu = (v: Variant): number =>
        median(runs.filter((x) => x.variant === v).map((x) => sumCpu(x.ztunnels)));
      const mb = (v: Variant): number => bulk.find((x) => x.variant === v)?.mbPerSec ?? NaN;
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
    if (variants.includes('waypoint')) {
      const w = over('waypoint');
      const cpuOf = (v: Variant, pick: (u: Record<string, ProcUsage>) => number): number =>
        median(runs.filter((x) => x.variant === v).map((x) => pick(x.ztunnels)));
      const wpCpu = cpuOf('waypoint', (u) => u.waypoint?.cpuUsPerUnit ?? NaN);
      const ztCpu = cpuOf('ambient', (u) => sumCpu(u) / Math.max(1, Object.keys(u).length));
      const p90OverAmbient = w.p90 / added.p90;
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
        goals: {
          p90: { limit: 2.5, met: p90OverAmbient <= 2.5 },
          cpu: { limit: 4, met: ratio <= 4 },
        },
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
      },
      settings: {
        ...settings,
        client: `default/${client.name} on ${client.node}`,
        server: `default/${server.name} on ${server.node}`,
        target: `Service echo ${svc.clusterIP}:${port}, GET /bytes/${o.size}`,
      },
      runs,
      bulk,
      summary,
      added,
      ...(haproxy ? { haproxy } : {}),
      ...(waypoint ? { waypoint } : {}),
      goals: {
        p90: { limitMs: 0.17, met: added.p90 <= 0.17 },
        p99: { limitMs: 0.2, met: added.p99 <= 0.2 },
      },
      curve,
    };
  } finally {
    pair?.stop();
    hop?.stop();
    if (current !== (wasAmbient ? 'ambient' : 'off')) {
      await switchTo(wasAmbient ? 'ambient' : 'no-mesh').catch((err: unknown) => p(String(err)));
      p(`namespace default restored to ${wasAmbient ? 'ambient' : 'no mesh'}`);
    }
    if (createdWaypoint) {
      const r = await meshctl(['waypoint', 'delete', WAYPOINT, '-n', 'default', '--config-dir', configDir]);
      p(r.code === 0 ? 'the waypoint created for the bench is deleted' : r.out.trim());
    }
  }
}
