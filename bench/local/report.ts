/**
 * The text report of `meshctl bench`: per mode and connection count the pooled percentiles with their
 * spread over rounds, added latency, mesh CPU and RSS; the two goals; the references; bulk, sweep and
 * memory.
 */
import type { LocalBenchReport } from './run.js';
import type { ProcUsage } from './proc-stats.js';
import { MEMORY_GOAL, P99_GOAL, type Mode } from './summary.js';

export const MODE_NAMES: Record<Mode, string> = {
  'no-mesh': 'no mesh',
  ambient: 'ambient L4',
  waypoint: 'waypoint',
  sidecar: 'sidecar',
  haproxy: 'haproxy',
  'haproxy-http': 'haproxy-http',
};
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-');
const x2 = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '-');
const pad = (s: string, n: number): string => s.padEnd(n);
const rpad = (s: string, n: number): string => s.padStart(n);

function procs(z: Record<string, ProcUsage>, unit: string): string {
  return Object.entries(z)
    .map(
      ([node, u]) =>
        `${node} ${(u.cores * 100).toFixed(0)}% ${u.cpuUsPerUnit !== undefined ? `${u.cpuUsPerUnit.toFixed(0)}µs/${unit} ` : ''}${u.rssMb.toFixed(0)}MB`,
    )
    .join(', ');
}

function pointLines(r: LocalBenchReport): string[] {
  const lines = [
    `${pad('mode', 12)} ${rpad('conns', 5)} ${rpad('p50', 7)} ${rpad('p90', 7)} ${rpad('p99', 7)} ${rpad('p99.9', 7)}  ${pad('p99 over rounds', 15)} ${rpad('+p50', 7)} ${rpad('+p90', 7)} ${rpad('+p99', 7)} ${rpad('req/s', 6)} ${rpad('err', 4)} ${rpad('CPU s/1k', 8)} ${rpad('RSS MB', 6)}  mesh processes on the path`,
  ];
  for (const c of r.settings.connections)
    for (const p of r.points.filter((x) => x.connections === c)) {
      const sp = `${ms(p.spread.p99[0])}-${ms(p.spread.p99[1])}`;
      const names = Object.keys(p.cpuSPer1000);
      lines.push(
        `${pad(MODE_NAMES[p.mode], 12)} ${rpad(String(c), 5)} ${rpad(ms(p.p50), 7)} ${rpad(ms(p.p90), 7)} ${rpad(ms(p.p99), 7)} ${rpad(ms(p.p999), 7)}  ${pad(sp, 15)} ${rpad(p.mode === 'no-mesh' ? '' : ms(p.added.p50), 7)} ${rpad(p.mode === 'no-mesh' ? '' : ms(p.added.p90), 7)} ${rpad(p.mode === 'no-mesh' ? '' : ms(p.added.p99), 7)} ${rpad(p.rps.toFixed(0), 6)} ${rpad(String(p.errors), 4)} ${rpad(p.cpuTotalSPer1000.toFixed(3), 8)} ${rpad(p.rssTotalMb.toFixed(0), 6)}  ${names.length ? names.map((n) => `${n} ${p.cpuSPer1000[n]!.toFixed(3)} s ${p.rssMb[n]!.toFixed(0)} MB`).join(', ') : '-'}`,
      );
    }
  return lines;
}

function goalLines(r: LocalBenchReport): string[] {
  const g = r.goals;
  const lines: string[] = [];
  if (g.p99.length === 0)
    lines.push('goal ambient vs sidecar p99: needs modes ambient and sidecar in the run');
  else {
    const met = g.p99.filter((x) => x.met).length;
    lines.push(
      `goal: ambient L4 added p99 <= ${P99_GOAL}x sidecar added p99 (Istio: 0.16-0.20 vs 0.63-0.88 ms) — met at ${met} of ${g.p99.length} connection counts:`,
    );
    for (const x of g.p99)
      lines.push(
        `  ${rpad(String(x.connections), 2)} conns: ambient +${ms(x.ambientMs)} ms, sidecar +${ms(x.sidecarMs)} ms: ${Number.isFinite(x.ratio) ? `${x2(x.ratio)} ${x.met ? 'met' : 'NOT met'}` : 'no ratio (an added figure <= 0: noise)'}`,
      );
  }
  const m = g.memory;
  if (m)
    lines.push(
      `goal: mesh memory with ${r.memory?.pods} pods, ambient <= ${MEMORY_GOAL}x sidecar: ztunnels ${m.ambientMb.toFixed(0)} MB vs sidecars ${m.sidecarMb.toFixed(0)} MB: ${x2(m.ratio)} ${m.met ? 'met' : 'NOT met'}`,
    );
  else lines.push('goal mesh memory: no memory phase in this run (--mem-pods N with ambient and sidecar)');
  return lines;
}

function referenceLines(r: LocalBenchReport): string[] {
  const out: string[] = [];
  const h = r.haproxy;
  if (h) {
    const q = h.ratios;
    out.push(
      `haproxy pair over no mesh: +${ms(h.added.p50)} / +${ms(h.added.p90)} / +${ms(h.added.p99)} ms at p50 / p90 / p99`,
      `ambient / haproxy: added p50 ${x2(q.p50)}, p90 ${x2(q.p90)}, p99 ${x2(q.p99)}; proxy CPU per request ${x2(q.cpuPerRequest)}; bulk ${x2(q.bulk)}`,
    );
  }
  const w = r.waypoint;
  if (w) {
    const c = w.cpuUsPerRequest;
    out.push(
      `waypoint added p90 / ambient L4 added p90: ${x2(w.p90OverAmbient)} (goal <= ${w.goals.p90.limit}x): ${Number.isFinite(w.p90OverAmbient) ? (w.goals.p90.met ? 'met' : 'NOT met') : 'no ratio (noise)'}`,
      `CPU per request: waypoint ${c.waypoint.toFixed(0)} µs, one ztunnel ${c.ztunnel.toFixed(0)} µs: ${x2(c.ratio)} (goal <= ${w.goals.cpu.limit}x): ${w.goals.cpu.met ? 'met' : 'NOT met'}`,
    );
    if (w.haproxyHop)
      out.push(
        `haproxy mode http hop (haproxy-http over haproxy): +${ms(w.haproxyHop.added.p50)} / +${ms(w.haproxyHop.added.p90)} / +${ms(w.haproxyHop.added.p99)} ms, H ${w.haproxyHop.hopCpuUsPerRequest.toFixed(0)} µs/req`,
      );
  }
  return out;
}

export function formatLocalReport(r: LocalBenchReport): string {
  const s = r.settings;
  const lines: string[] = [
    `local cluster bench, HTTP/1.1 ${s.request}; each mode on its own pair of pods:`,
    ...Object.entries(s.pairs).map(([m, t]) => `  ${pad(MODE_NAMES[m as Mode], 12)} ${t}`),
    `fixed ${s.rate} req/s, HTTP/1.1 ${s.size} B, ${s.seconds} s per run (+${s.warmup} s warm-up, discarded), ${s.rounds} round(s), connections ${s.connections.join(', ')}; latency from the due time, ms, pooled over rounds; +pX = added over no mesh; CPU s/1k = CPU seconds per 1000 requests of the mesh processes on the path; load average at the end ${r.meta.loadavg.map((x) => x.toFixed(1)).join(' ')}`,
    '',
    ...pointLines(r),
    '',
    ...goalLines(r),
    ...(r.failures ?? []).map((f) => `FAILED: ${f}`),
    ...referenceLines(r),
  ];
  if (r.bulk.length) {
    lines.push(
      '',
      `bulk, one connection (GET of ${(s.bulkChunk / 1048576).toFixed(0)} MiB bodies; the median of ${s.rounds} round(s)):`,
    );
    for (const b of r.bulk)
      lines.push(
        `  ${pad(MODE_NAMES[b.variant], 12)} ${rpad(b.mbPerSec.toFixed(0), 5)} MB/s  errors ${b.errors}  ${procs(b.procs, 'MB')}`,
      );
  }
  if (r.sweep) {
    lines.push(
      '',
      `rate sweep (doubling from ${r.sweep[0]?.steps[0]?.rate ?? ''} req/s, 2 s runs, ${r.sweep[0]?.connections ?? ''} connections; sustained = no errors and >= 90 % delivered):`,
    );
    for (const w of r.sweep)
      lines.push(
        w.error
          ? `  ${pad(MODE_NAMES[w.mode], 12)} no sweep: ${w.error}`
          : `  ${pad(MODE_NAMES[w.mode], 12)} max sustained ${w.maxSustained ? `${w.maxSustained} req/s` : `< ${w.steps[0]?.rate ?? '?'} req/s`}  (${w.steps.map((x) => `${x.rate}->${x.achieved.toFixed(0)}${x.errors ? ` ${x.errors}err` : ''}`).join(', ')})`,
      );
  }
  const m = r.memory;
  if (m) {
    lines.push('', `mesh memory with ${m.pods} application pods (peak RSS during light traffic to them):`);
    if (m.ambient)
      lines.push(
        `  ambient: ztunnels ${m.ambient.totalMb.toFixed(0)} MB (${Object.entries(m.ambient.processes)
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join(', ')}), errors ${m.ambient.errors}`,
      );
    if (m.sidecar) {
      const v = Object.values(m.sidecar.processes);
      lines.push(
        `  sidecar: ${v.length} sidecars ${m.sidecar.totalMb.toFixed(0)} MB (${Math.min(...v).toFixed(0)}-${Math.max(...v).toFixed(0)} MB each), errors ${m.sidecar.errors}`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
