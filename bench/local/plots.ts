/**
 * The other two hand-written SVGs of `meshctl bench`: added p50/p90/p99 against the connection count
 * (one panel per percentile, one line per mode, log latency axis), and the mesh's CPU seconds per 1000
 * requests at the fixed rate (bars per mode, one per connection count).
 */
import type { LocalBenchReport } from './run.js';
import type { Mode } from './summary.js';
import { COLORS, esc } from './svg.js';
import { MODE_NAMES as NAMES } from './report.js';

const TICKS = [
  0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000,
];

function header(w: number, h: number, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`,
  ];
}

function legend(out: string[], modes: Mode[], x: number, y: number): void {
  modes.forEach((m, i) => {
    out.push(
      `<rect x="${x + i * 130}" y="${y - 9}" width="14" height="10" fill="${COLORS[m]}"/>`,
      `<text x="${x + i * 130 + 18}" y="${y}">${esc(NAMES[m])}</text>`,
    );
  });
}

/** Added latency over no mesh against connections: three panels (p50, p90, p99). */
export function addedSvg(r: LocalBenchReport): string {
  const W = 1000;
  const H = 380;
  const pw = 280;
  const M = { l: 60, t: 50, b: 80 };
  const modes = r.settings.variants.filter((m) => m !== 'no-mesh');
  const conns = r.settings.connections;
  const vals = r.points
    .filter((p) => p.mode !== 'no-mesh')
    .flatMap((p) => [p.added.p50, p.added.p90, p.added.p99]);
  const pos = vals.filter((v) => Number.isFinite(v) && v > 0);
  const yMin = [...TICKS].reverse().find((t) => t <= Math.min(...pos, 0.1)) ?? 0.01;
  const yMax = TICKS.find((t) => t >= Math.max(...pos, 1)) ?? 20000;
  const y = (v: number): number =>
    H -
    M.b -
    ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) *
      (H - M.t - M.b);
  const out = header(
    W,
    H,
    `Added latency over no mesh vs connections, ${r.settings.rate} req/s, HTTP/1.1 ${r.settings.size} B (${r.settings.rounds} round(s) pooled; ≤ 0 drawn at the bottom)`,
  );
  (['p50', 'p90', 'p99'] as const).forEach((q, k) => {
    const x0 = M.l + k * (pw + 40);
    const x = (i: number): number => x0 + (conns.length === 1 ? pw / 2 : (i / (conns.length - 1)) * pw);
    out.push(
      `<rect x="${x0}" y="${M.t}" width="${pw}" height="${H - M.t - M.b}" fill="none" stroke="#888"/>`,
    );
    out.push(`<text x="${x0 + pw / 2}" y="${M.t - 6}" text-anchor="middle">added ${q}</text>`);
    for (const t of TICKS.filter((t) => t >= yMin && t <= yMax))
      out.push(
        `<line x1="${x0}" x2="${x0 + pw}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/>`,
        ...(k === 0
          ? [`<text x="${x0 - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`]
          : []),
      );
    conns.forEach((c, i) =>
      out.push(`<text x="${x(i).toFixed(1)}" y="${H - M.b + 16}" text-anchor="middle">${c}</text>`),
    );
    out.push(`<text x="${x0 + pw / 2}" y="${H - M.b + 34}" text-anchor="middle">connections</text>`);
    for (const m of modes) {
      const pts = conns
        .map((c, i) => {
          const p = r.points.find((z) => z.mode === m && z.connections === c);
          return p ? `${x(i).toFixed(1)},${y(p.added[q]).toFixed(1)}` : '';
        })
        .filter(Boolean);
      out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${COLORS[m]}" stroke-width="2"/>`);
      for (const pt of pts) {
        const [px, py] = pt.split(',');
        out.push(`<circle cx="${px}" cy="${py}" r="3" fill="${COLORS[m]}"/>`);
      }
    }
  });
  out.push(
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">ms (log scale)</text>`,
  );
  legend(out, modes, M.l, H - 16);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** CPU seconds per 1000 requests of the mesh processes on each path, per connection count. */
export function cpuSvg(r: LocalBenchReport): string {
  const W = 760;
  const H = 380;
  const M = { l: 60, r: 20, t: 50, b: 70 };
  const modes = r.settings.variants.filter((m) => m !== 'no-mesh');
  const conns = r.settings.connections;
  const val = (m: Mode, c: number): number =>
    r.points.find((p) => p.mode === m && p.connections === c)?.cpuTotalSPer1000 ?? NaN;
  const max = Math.max(0.1, ...modes.flatMap((m) => conns.map((c) => val(m, c))).filter(Number.isFinite));
  const step = [0.05, 0.1, 0.2, 0.5, 1, 2].find((s) => max / s <= 8) ?? 5;
  const top = Math.ceil(max / step) * step;
  const y = (v: number): number => H - M.b - (v / top) * (H - M.t - M.b);
  const gw = (W - M.l - M.r) / Math.max(1, modes.length);
  const bw = (gw * 0.8) / conns.length;
  const out = header(
    W,
    H,
    `Mesh CPU seconds per 1000 requests at ${r.settings.rate} req/s (= cores busy), all mesh processes on the path`,
  );
  for (let v = 0; v <= top + 1e-9; v += step)
    out.push(
      `<line x1="${M.l}" x2="${W - M.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${M.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${Number(v.toFixed(2))}</text>`,
    );
  modes.forEach((m, i) => {
    const gx = M.l + i * gw + gw * 0.1;
    conns.forEach((c, k) => {
      const v = val(m, c);
      if (!Number.isFinite(v)) return;
      const x = gx + k * bw;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(H - M.b - y(v)).toFixed(1)}" fill="${COLORS[m]}" fill-opacity="${(0.45 + (0.55 * (k + 1)) / conns.length).toFixed(2)}"/>`,
        `<text x="${(x + bw / 2).toFixed(1)}" y="${H - M.b + 12}" text-anchor="middle" font-size="10">${c}</text>`,
      );
    });
    out.push(
      `<text x="${(gx + gw * 0.4).toFixed(1)}" y="${H - M.b + 28}" text-anchor="middle">${esc(NAMES[m])}</text>`,
    );
  });
  out.push(
    `<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="none" stroke="#888"/>`,
    `<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">CPU s per 1000 requests</text>`,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle">bars per mode: connections ${conns.join(', ')}</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
