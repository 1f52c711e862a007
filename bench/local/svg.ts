/**
 * A hand-written SVG of the latency distribution: latency (ms) against percentile, on the usual
 * "nines" axis (x = -log10(1 - q)), one curve per variant, pooled over rounds.
 */
import type { LocalBenchReport, Variant } from './run.js';
import { P99_GOAL } from './summary.js';

const W = 720;
const H = 420;
const M = { l: 60, r: 20, t: 40, b: 50 };
export const COLORS: Record<Variant, string> = {
  'no-mesh': '#1f77b4',
  ambient: '#d62728',
  waypoint: '#9467bd',
  sidecar: '#ff7f0e',
  haproxy: '#2ca02c',
  'haproxy-http': '#8c564b',
};
export const NAMES: Record<Variant, string> = {
  'no-mesh': 'no mesh',
  ambient: 'ambient L4 (two ztunnels)',
  waypoint: 'ambient + waypoint',
  sidecar: 'sidecar (both ends)',
  haproxy: 'haproxy pair (mutual TLS)',
  'haproxy-http': 'haproxy pair + mode http hop',
};
export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function latencySvg(r: LocalBenchReport): string {
  const qs = r.curve.quantiles;
  const nines = (q: number): number => -Math.log10(1 - Math.min(q, 0.999));
  const xMax = 3;
  const shown = r.settings.variants.filter((v) => r.curve[v] && r.summary[v]);
  const all = shown.flatMap((v) => r.curve[v]!).filter((v) => v > 0);
  // Logarithmic latency axis: the body (p50..p90) and the tail (p99.9) both stay readable.
  const TICKS = [0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
  const yMin = [...TICKS].reverse().find((t) => t <= Math.min(...all, 1)) ?? 0.05;
  const yMax = TICKS.find((t) => t >= Math.max(...all, 1)) ?? 10000;
  const x = (q: number): number => M.l + (nines(q) / xMax) * (W - M.l - M.r);
  const y = (v: number): number =>
    H -
    M.b -
    ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) *
      (H - M.t - M.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(`Latency by percentile, ${r.settings.rate} req/s on ${r.settings.reference} connections, HTTP/1.1 ${r.settings.size} B (${r.settings.rounds} round(s) pooled)`)}</text>`,
  ];
  for (const v of TICKS.filter((t) => t >= yMin && t <= yMax)) {
    out.push(
      `<line x1="${M.l}" x2="${W - M.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${M.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`,
    );
  }
  for (const [q, label] of [
    [0, 'p0'],
    [0.5, 'p50'],
    [0.9, 'p90'],
    [0.99, 'p99'],
    [0.999, 'p99.9'],
  ] as const) {
    out.push(
      `<line x1="${x(q).toFixed(1)}" x2="${x(q).toFixed(1)}" y1="${M.t}" y2="${H - M.b}" stroke="#ddd"/>`,
      `<text x="${x(q).toFixed(1)}" y="${H - M.b + 16}" text-anchor="middle">${label}</text>`,
    );
  }
  out.push(
    `<text x="${(M.l + W - M.r) / 2}" y="${H - 12}" text-anchor="middle">percentile (latency from the intended send time)</text>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">latency, ms (log scale)</text>`,
    `<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#888"/>`,
  );
  shown.forEach((v, i) => {
    const pts = qs.map((q, k) => `${x(q).toFixed(1)},${y(r.curve[v]![k] ?? NaN).toFixed(1)}`).join(' ');
    const s = r.summary[v]!;
    out.push(
      `<polyline points="${pts}" fill="none" stroke="${COLORS[v]}" stroke-width="2"/>`,
      `<line x1="${M.l + 12}" x2="${M.l + 36}" y1="${M.t + 16 + i * 18}" y2="${M.t + 16 + i * 18}" stroke="${COLORS[v]}" stroke-width="2"/>`,
      `<text x="${M.l + 42}" y="${M.t + 20 + i * 18}">${esc(`${NAMES[v]}: p50 ${s.p50.toFixed(3)}, p90 ${s.p90.toFixed(3)}, p99 ${s.p99.toFixed(3)} ms`)}</text>`,
    );
  });
  const g = r.goals.p99.find((x) => x.connections === r.settings.reference);
  const a = r.added;
  out.push(
    `<text x="${M.l + 12}" y="${M.t + 20 + shown.length * 18}">${esc(
      g
        ? `added p99: ambient ${a.p99.toFixed(3)} ms, sidecar ${g.sidecarMs.toFixed(3)} ms: ${Number.isFinite(g.ratio) ? `${g.ratio.toFixed(2)}x` : 'no ratio (noise)'} (goal <= ${P99_GOAL}x)`
        : `added over no mesh: p90 ${a.p90.toFixed(3)} ms, p99 ${a.p99.toFixed(3)} ms (ambient L4)`,
    )}</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
