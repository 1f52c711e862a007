/** Turns a BenchReport into the added-latency figures, the goal checks and a printable table. */
import type { BenchReport, Summary } from './bench.js';
import type { TestKind } from './protocol.js';
import type { Variant } from './topology.js';

type Metric = {
  label: string;
  test: TestKind;
  pick: (s: Summary) => number | undefined;
  added?: boolean;
  digits: number;
};

const METRICS: Metric[] = [
  { label: 'fixed 1000 req/s, p50 ms', test: 'fixedRate', pick: (s) => s.p50, added: true, digits: 3 },
  { label: 'fixed 1000 req/s, p90 ms', test: 'fixedRate', pick: (s) => s.p90, added: true, digits: 3 },
  { label: 'fixed 1000 req/s, p99 ms', test: 'fixedRate', pick: (s) => s.p99, added: true, digits: 3 },
  {
    label: 'fixed, service-time p50 ms',
    test: 'fixedRate',
    pick: (s) => s.serviceP50,
    added: true,
    digits: 3,
  },
  { label: 'fixed, proxy CPU µs/req', test: 'fixedRate', pick: (s) => s.proxyCpuUsPerOp, digits: 0 },
  { label: 'closed loop, p50 ms', test: 'closedLoop', pick: (s) => s.p50, added: true, digits: 3 },
  { label: 'closed loop, p90 ms', test: 'closedLoop', pick: (s) => s.p90, added: true, digits: 3 },
  { label: 'closed loop, p99 ms', test: 'closedLoop', pick: (s) => s.p99, added: true, digits: 3 },
  { label: 'closed loop, req/s', test: 'closedLoop', pick: (s) => s.perSec, digits: 0 },
  { label: 'closed loop, proxy cores', test: 'closedLoop', pick: (s) => s.proxyCores, digits: 2 },
  { label: 'bulk 1 conn, MB/s', test: 'bulk', pick: (s) => s.perSec / 1e6, digits: 0 },
  { label: 'bulk, proxy cores', test: 'bulk', pick: (s) => s.proxyCores, digits: 2 },
  { label: 'bulk, proxy CPU ms/MB', test: 'bulk', pick: (s) => s.proxyCpuUsPerOp / 1000, digits: 2 },
  { label: 'new tunnels/s', test: 'tunnels', pick: (s) => s.perSec, digits: 0 },
  { label: 'new tunnel p50 ms', test: 'tunnels', pick: (s) => s.p50, added: true, digits: 3 },
  { label: 'new tunnel, proxy CPU µs', test: 'tunnels', pick: (s) => s.proxyCpuUsPerOp, digits: 0 },
];

/** Ours against haproxy in the same run: the issue's figures. */
const RATIOS: Array<{ label: string; metric: string; added: boolean }> = [
  { label: 'CPU µs/req', metric: 'fixed, proxy CPU µs/req', added: false },
  { label: 'added p50', metric: 'fixed 1000 req/s, p50 ms', added: true },
  { label: 'added p90', metric: 'fixed 1000 req/s, p90 ms', added: true },
  { label: 'added p99', metric: 'fixed 1000 req/s, p99 ms', added: true },
  { label: 'bulk MB/s', metric: 'bulk 1 conn, MB/s', added: false },
  { label: 'new tunnels/s', metric: 'new tunnels/s', added: false },
];
/** Our proxies, then the floor of Node's TLS without HTTP/2 (the same ratios tell what is left to gain). */
const OURS = ['hbone', 'hbone-own', 'node-tls'] as const;

export interface Derived {
  /** Variant minus direct, for the latency metrics (ms). */
  added: Partial<Record<Variant, Record<string, number>>>;
  /** Each of ours divided by haproxy, per figure of RATIOS (lower is better for CPU and latency). */
  ratios: Partial<Record<Variant, Record<string, number>>>;
  goals: {
    addedP50NoWorseThanHaproxy?: { hbone: number; haproxy: number; met: boolean };
    bulkAtLeastHalfOfDirect?: { hbone: number; direct: number; ratio: number; met: boolean };
  };
}

function value(r: BenchReport, v: Variant, m: Metric): number | undefined {
  const s = r.results[v]?.[m.test];
  return s ? m.pick(s) : undefined;
}

export function derive(r: BenchReport): Derived {
  const added: Derived['added'] = {};
  for (const v of ['hbone', 'hbone-own', 'node-tls', 'haproxy'] as const) {
    if (!r.results[v]) continue;
    const row: Record<string, number> = {};
    for (const m of METRICS) {
      if (!m.added) continue;
      const a = value(r, v, m);
      const d = value(r, 'direct', m);
      if (a !== undefined && d !== undefined) row[m.label] = a - d;
    }
    added[v] = row;
  }
  const goals: Derived['goals'] = {};
  const key = METRICS[0]!.label;
  const ah = added.hbone?.[key];
  const ax = added.haproxy?.[key];
  if (ah !== undefined && ax !== undefined)
    goals.addedP50NoWorseThanHaproxy = { hbone: ah, haproxy: ax, met: ah <= ax };
  const bh = r.results.hbone?.bulk?.perSec;
  const bd = r.results.direct?.bulk?.perSec;
  if (bh !== undefined && bd !== undefined)
    goals.bulkAtLeastHalfOfDirect = { hbone: bh / 1e6, direct: bd / 1e6, ratio: bh / bd, met: bh >= bd / 2 };
  const ratios: Derived['ratios'] = {};
  for (const v of OURS) {
    if (!r.results[v] || !r.results.haproxy) continue;
    const row: Record<string, number> = {};
    for (const x of RATIOS) {
      const m = METRICS.find((mm) => mm.label === x.metric)!;
      const ours = x.added ? added[v]?.[x.metric] : value(r, v, m);
      const theirs = x.added ? added.haproxy?.[x.metric] : value(r, 'haproxy', m);
      if (ours !== undefined && theirs !== undefined && theirs !== 0) row[x.label] = ours / theirs;
    }
    ratios[v] = row;
  }
  return { added, ratios, goals };
}

function fmt(x: number | undefined, digits: number): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x.toFixed(digits);
}

/** A fixed-width table: one row per metric; columns per variant, then the added latency. */
export function table(r: BenchReport, d: Derived): string {
  const variants = (['direct', 'hbone', 'hbone-own', 'node-tls', 'haproxy'] as const).filter(
    (v) => r.results[v],
  );
  const extra = (['hbone', 'hbone-own', 'node-tls', 'haproxy'] as const).filter((v) => d.added[v]);
  const head = ['metric (median of rounds)', ...variants, ...extra.map((v) => `+${v}`)];
  const rows: string[][] = [head];
  for (const m of METRICS) {
    if (!r.settings.tests.includes(m.test)) continue;
    rows.push([
      m.label,
      ...variants.map((v) => fmt(value(r, v, m), m.digits)),
      ...extra.map((v) => (m.added ? fmt(d.added[v]?.[m.label], m.digits) : '')),
    ]);
  }
  const errs = variants.map((v) =>
    Object.values(r.results[v] ?? {}).reduce((s, x) => s + (x?.errors ?? 0), 0),
  );
  rows.push(['errors (all tests)', ...errs.map(String), ...extra.map(() => '')]);
  const widths = head.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]): string =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)];
  for (const v of OURS) {
    const row = d.ratios[v];
    if (!row) continue;
    out.push(
      `${v} / haproxy: ${RATIOS.filter((x) => row[x.label] !== undefined)
        .map((x) => `${x.label} ${row[x.label]!.toFixed(2)}x`)
        .join(', ')}`,
    );
  }
  const g = d.goals;
  if (g.addedP50NoWorseThanHaproxy) {
    const x = g.addedP50NoWorseThanHaproxy;
    out.push(
      `goal: added p50 (fixed rate) no worse than haproxy: ours +${x.hbone.toFixed(3)} ms vs haproxy +${x.haproxy.toFixed(3)} ms -> ${x.met ? 'MET' : 'MISSED'}`,
    );
  }
  if (g.bulkAtLeastHalfOfDirect) {
    const x = g.bulkAtLeastHalfOfDirect;
    out.push(
      `goal: bulk at least half of direct: ${x.hbone.toFixed(0)} of ${x.direct.toFixed(0)} MB/s (${(x.ratio * 100).toFixed(0)}%) -> ${x.met ? 'MET' : 'MISSED'}`,
    );
  }
  return out.join('\n');
}
