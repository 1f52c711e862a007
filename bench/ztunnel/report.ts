/** The ztunnel benchmark's table and its comparison with the goals (Istio's Rust ztunnel, published). */
import type { VariantSummary, ZtBenchReport } from './bench.js';

export const GOALS = {
  /** Both ztunnels together, added to direct. */
  addedP90Ms: 0.17,
  addedP99Ms: 0.2,
  /** Per ztunnel: CPU seconds per 1000 requests (= vCPU at 1000 req/s). */
  vcpuPer1000Rps: 0.06,
};

/** Issue 14's goals: ratios against the haproxy pair measured in the same run. */
export const HAPROXY_RATIO_GOALS = {
  /** Added latency (p50, p90, p99 each) at most this multiple of haproxy's. */
  addedLatency: 1.0,
  /** CPU per request of the two ztunnels together over the two haproxy processes'. */
  cpuPerRequest: 1.2,
  /** New connections per second at least this multiple of haproxy's (a TLS handshake each). */
  newConnections: 2.0,
};
/** Issue 14: RSS per 1000 idle tunnels, per ztunnel, in MB (10^6 bytes: KiB per tunnel x 1.024). */
export const IDLE_MB_PER_1000_LIMIT = 20;

export interface Added {
  p50: number;
  p90: number;
  p99: number;
}

export interface Derived {
  /** Latency each variant adds to direct (fixed rate, medians of rounds). */
  added: Record<string, Added>;
  goals: Array<{
    variant: string;
    goal: string;
    value: number;
    limit: number;
    met: boolean;
    atLeast?: boolean;
  }>;
}

export function derive(r: ZtBenchReport): Derived {
  const direct = r.results.direct?.fixed?.latencyMs;
  const added: Record<string, Added> = {};
  const goals: Derived['goals'] = [];
  for (const [v, s] of Object.entries(r.results)) {
    if (!direct || !s.fixed || v === 'direct') continue;
    const l = s.fixed.latencyMs;
    added[v] = { p50: l.p50 - direct.p50, p90: l.p90 - direct.p90, p99: l.p99 - direct.p99 };
    if (!v.startsWith('ztunnel')) continue;
    const g = (goal: string, value: number, limit: number): void => {
      goals.push({ variant: v, goal, value, limit, met: value <= limit });
    };
    g('added p90 ms (two ztunnels)', added[v].p90, GOALS.addedP90Ms);
    g('added p99 ms (two ztunnels)', added[v].p99, GOALS.addedP99Ms);
    g('vCPU per 1000 req/s, node-1 ztunnel', s.fixed.cpuMsPerReqA, GOALS.vcpuPer1000Rps);
    g('vCPU per 1000 req/s, node-2 ztunnel', s.fixed.cpuMsPerReqB, GOALS.vcpuPer1000Rps);
    if (s.idle) {
      g('idle MB per 1000 tunnels, node-1 ztunnel', s.idle.kbPerTunnelA * 1.024, IDLE_MB_PER_1000_LIMIT);
      g('idle MB per 1000 tunnels, node-2 ztunnel', s.idle.kbPerTunnelB * 1.024, IDLE_MB_PER_1000_LIMIT);
    }
  }
  goals.push(...haproxyRatios(r, added));
  return { added, goals };
}

/** The same-run ratios of each ztunnel variant to the haproxy pair (issue 14's goals). */
function haproxyRatios(r: ZtBenchReport, added: Record<string, Added>): Derived['goals'] {
  const h = r.results.haproxy;
  const ha = added.haproxy;
  if (!h || !ha) return [];
  const out: Derived['goals'] = [];
  for (const [v, s] of Object.entries(r.results)) {
    if (!v.startsWith('ztunnel')) continue;
    const g = (
      goal: string,
      ours: number | undefined,
      theirs: number | undefined,
      limit: number,
      atLeast = false,
    ): void => {
      if (ours === undefined || theirs === undefined || !(theirs > 0)) return;
      const value = ours / theirs;
      out.push({ variant: v, goal, value, limit, met: atLeast ? value >= limit : value <= limit, atLeast });
    };
    const lat = HAPROXY_RATIO_GOALS.addedLatency;
    g('added p50 / haproxy added p50', added[v]?.p50, ha.p50, lat);
    g('added p90 / haproxy added p90', added[v]?.p90, ha.p90, lat);
    g('added p99 / haproxy added p99', added[v]?.p99, ha.p99, lat);
    const cpu = (x: typeof s): number | undefined =>
      x.fixed ? x.fixed.cpuMsPerReqA + x.fixed.cpuMsPerReqB : undefined;
    g('CPU per request / haproxy', cpu(s), cpu(h), HAPROXY_RATIO_GOALS.cpuPerRequest);
    g(
      'new connections/s / haproxy',
      s.conn?.perSec,
      h.conn?.perSec,
      HAPROXY_RATIO_GOALS.newConnections,
      true,
    );
  }
  return out;
}
const f = (x: number | undefined, digits = 3): string =>
  x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);

export function table(r: ZtBenchReport, d: Derived): string {
  const vs = Object.keys(r.results);
  const rows: Array<[string, (s: VariantSummary, v: string) => string]> = [
    ['fixed 1000 req/s, p50 ms', (s) => f(s.fixed?.latencyMs.p50)],
    ['fixed 1000 req/s, p90 ms', (s) => f(s.fixed?.latencyMs.p90)],
    ['fixed 1000 req/s, p99 ms', (s) => f(s.fixed?.latencyMs.p99)],
    ['added p50 ms (vs direct)', (_s, v) => f(d.added[v]?.p50)],
    ['added p90 ms (vs direct)', (_s, v) => f(d.added[v]?.p90)],
    ['added p99 ms (vs direct)', (_s, v) => f(d.added[v]?.p99)],
    ['service-time p50 ms', (s) => f(s.fixed?.serviceP50)],
    ['CPU s/1000 req, hop 1', (s) => f(s.fixed?.cpuMsPerReqA)],
    ['CPU s/1000 req, hop 2', (s) => f(s.fixed?.cpuMsPerReqB)],
    ['new connections/s', (s) => f(s.conn?.perSec, 0)],
    ['new connection p50 ms', (s) => f(s.conn?.p50)],
    ['CPU ms/new conn, hop 1', (s) => f(s.conn?.cpuMsPerConnA)],
    ['CPU ms/new conn, hop 2', (s) => f(s.conn?.cpuMsPerConnB)],
    ['cores in conn test, hop 1', (s) => f(s.conn?.coresA, 2)],
    ['cores in conn test, hop 2', (s) => f(s.conn?.coresB, 2)],
    ['idle: KiB/tunnel, hop 1', (s) => f(s.idle?.kbPerTunnelA, 1)],
    ['idle: KiB/tunnel, hop 2', (s) => f(s.idle?.kbPerTunnelB, 1)],
    ['errors (all tests)', (s) => String(s.errors)],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const ws = vs.map((v) => Math.max(v.length, 8));
  const line = (cells: string[]): string =>
    [cells[0]!.padEnd(w0), ...cells.slice(1).map((c, i) => c.padStart(ws[i]!))].join('  ');
  const out = [
    line(['metric (median of rounds)', ...vs]),
    line(['-'.repeat(w0), ...ws.map((w) => '-'.repeat(w))]),
  ];
  for (const [name, cell] of rows) out.push(line([name, ...vs.map((v) => cell(r.results[v]!, v))]));
  out.push('');
  out.push(
    'hop 1 = ztunnel node-1 (client side) or haproxy A; hop 2 = ztunnel node-2 or haproxy B; ztunnel-wN = --workers N',
  );
  for (const g of d.goals)
    out.push(
      `goal ${g.variant}: ${g.goal} ${f(g.value)} ${g.atLeast ? '>=' : '<='} ${g.limit} -> ${g.met ? 'met' : 'MISSED'}`,
    );
  for (const [v, s] of Object.entries(r.results))
    if (s.firstError) out.push(`${v}: first error: ${s.firstError}`);
  return out.join('\n');
}
