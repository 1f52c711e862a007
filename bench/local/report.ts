/**
 * The text table of `meshctl bench`: per round, pooled summary, added latency against the goals, bulk.
 */
import type { LocalBenchReport, Variant } from './run.js';
import type { ProcUsage } from './proc-stats.js';
import { median } from '../hbone/stats.js';

const NAMES: Record<Variant, string> = {
  'no-mesh': 'no mesh',
  ambient: 'ambient L4',
  waypoint: 'waypoint',
  haproxy: 'haproxy',
  'haproxy-http': 'haproxy-http',
};
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-');
const pad = (s: string, n: number): string => s.padEnd(n);
const rpad = (s: string, n: number): string => s.padStart(n);

function zt(z: Record<string, ProcUsage>, unit: string): string {
  return Object.entries(z)
    .map(
      ([node, u]) =>
        `${node} ${(u.cores * 100).toFixed(0)}% ${u.cpuUsPerUnit !== undefined ? `${u.cpuUsPerUnit.toFixed(0)}µs/${unit} ` : ''}${u.rssMb.toFixed(0)}MB`,
    )
    .join(', ');
}

/** Ambient against the haproxy pair in the same run (issue goals: latency and CPU <= 1.0x / 1.2x, bulk >= 0.8x). */
function haproxyLines(r: LocalBenchReport): string[] {
  const h = r.haproxy;
  if (!h) return ['(haproxy not installed: no haproxy pair in this run)'];
  const x = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-');
  const q = h.ratios;
  return [
    `haproxy pair over no mesh: +${ms(h.added.p50)} / +${ms(h.added.p90)} / +${ms(h.added.p99)} ms at p50 / p90 / p99`,
    `ambient / haproxy: added p50 ${x(q.p50)}, p90 ${x(q.p90)}, p99 ${x(q.p99)} (goal <= 1.0x); ` +
      `proxy CPU per request ${x(q.cpuPerRequest)} (goal <= 1.2x); bulk ${x(q.bulk)} (goal >= 0.8x)`,
  ];
}

/** The waypoint against ambient L4 and the haproxy HTTP hop (issue 10's goals). */
function waypointLines(r: LocalBenchReport): string[] {
  const w = r.waypoint;
  if (!w) return [];
  const x = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-');
  const c = w.cpuUsPerRequest;
  const lines = [
    `ambient + waypoint over no mesh: +${ms(w.added.p50)} / +${ms(w.added.p90)} / +${ms(w.added.p99)} ms at p50 / p90 / p99`,
    `waypoint added p90 / ambient L4 added p90: ${x(w.p90OverAmbient)} (goal <= ${w.goals.p90.limit}x): ${w.goals.p90.met ? 'met' : 'NOT met'}`,
    `CPU per request: waypoint ${c.waypoint.toFixed(0)} µs, one ztunnel (ambient L4) ${c.ztunnel.toFixed(0)} µs: ${x(c.ratio)} (goal <= ${w.goals.cpu.limit}x): ${w.goals.cpu.met ? 'met' : 'NOT met'}`,
  ];
  const h = w.haproxyHop;
  if (h)
    lines.push(
      `haproxy mode http hop (haproxy-http over haproxy): +${ms(h.added.p50)} / +${ms(h.added.p90)} / +${ms(h.added.p99)} ms, H ${h.hopCpuUsPerRequest.toFixed(0)} µs/req`,
    );
  return lines;
}

export function formatLocalReport(r: LocalBenchReport): string {
  const s = r.settings;
  const lines: string[] = [
    `local cluster bench: ${s.client} -> ${s.target} (${s.server})`,
    `fixed rate ${s.rate} req/s on ${s.conns} connections, ${s.seconds} s per run (+${s.warmup} s warm-up), ${s.rounds} round(s); latency from the due time, ms`,
    '',
    `${pad('variant', 11)} ${pad('round', 5)} ${rpad('p50', 7)} ${rpad('p90', 7)} ${rpad('p99', 7)} ${rpad('p99.9', 7)} ${rpad('max', 7)} ${rpad('req/s', 6)} ${rpad('err', 4)}  ztunnels (CPU, per request, max RSS)`,
  ];
  for (const x of r.runs) {
    const l = x.latency;
    lines.push(
      `${pad(NAMES[x.variant], 11)} ${pad(String(x.round), 5)} ${rpad(ms(l.p50), 7)} ${rpad(ms(l.p90), 7)} ${rpad(ms(l.p99), 7)} ${rpad(ms(l.p999), 7)} ${rpad(ms(l.max), 7)} ${rpad(x.rps.toFixed(0), 6)} ${rpad(String(x.errors), 4)}  ${zt(x.ztunnels, 'req')}`,
    );
  }
  lines.push(
    '',
    `${pad('pooled', 11)} ${pad('', 5)} ${rpad('p50', 7)} ${rpad('p90', 7)} ${rpad('p99', 7)} ${rpad('p99.9', 7)} ${rpad('max', 7)} ${rpad('n', 6)} ${rpad('err', 4)}`,
  );
  for (const v of r.settings.variants) {
    const l = r.summary[v];
    if (!l) continue;
    lines.push(
      `${pad(NAMES[v], 11)} ${pad('', 5)} ${rpad(ms(l.p50), 7)} ${rpad(ms(l.p90), 7)} ${rpad(ms(l.p99), 7)} ${rpad(ms(l.p999), 7)} ${rpad(ms(l.max), 7)} ${rpad(String(l.completed), 6)} ${rpad(String(l.errors), 4)}`,
    );
  }
  const a = r.added;
  const svc = (v: 'no-mesh' | 'ambient', k: 'p50' | 'p90' | 'p99'): number =>
    median(r.runs.filter((x) => x.variant === v).map((x) => x.service[k]));
  lines.push(
    `${pad('added', 11)} ${pad('', 5)} ${rpad(ms(a.p50), 7)} ${rpad(ms(a.p90), 7)} ${rpad(ms(a.p99), 7)}`,
    `${pad('added*', 11)} ${pad('', 5)} ${(['p50', 'p90', 'p99'] as const).map((k) => rpad(ms(svc('ambient', k) - svc('no-mesh', k)), 7)).join(' ')}   (*service time: from the actual write, median of rounds)`,
    '',
    `goals (two ztunnels over no mesh): p90 +${ms(a.p90)} ms vs <= ${r.goals.p90.limitMs} ms: ${r.goals.p90.met ? 'met' : 'NOT met'}; ` +
      `p99 +${ms(a.p99)} ms vs <= ${r.goals.p99.limitMs} ms: ${r.goals.p99.met ? 'met' : 'NOT met'}`,
    ...haproxyLines(r),
    ...waypointLines(r),
    '',
    'bulk, one connection (GET of 64 MiB bodies):',
  );
  for (const b of r.bulk)
    lines.push(
      `  ${pad(NAMES[b.variant], 11)} ${rpad(b.mbPerSec.toFixed(0), 5)} MB/s  errors ${b.errors}  ${zt(b.ztunnels, 'MB')}`,
    );
  return `${lines.join('\n')}\n`;
}
