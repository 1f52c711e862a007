import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  goalsOf,
  parseConnections,
  parseModes,
  summarize,
  sustained,
  sweepRates,
  MODES,
  type Latency,
  type Mode,
  type RateRun,
} from '../../../bench/local/summary.js';

const lat = (p50: number, p99: number): Latency => ({
  p50,
  p90: (p50 + p99) / 2,
  p99,
  p999: p99 * 2,
  max: p99 * 3,
});

function run(
  variant: Mode,
  conns: number,
  round: number,
  p99: number,
  cpuUs: Record<string, number>,
): RateRun {
  return {
    variant,
    conns,
    round,
    latency: lat(1, p99),
    service: lat(0.5, p99),
    completed: 1000,
    errors: 0,
    rps: 1000,
    procs: Object.fromEntries(
      Object.entries(cpuUs).map(([k, us]) => [k, { cores: us / 1000, cpuUsPerUnit: us, rssMb: 50 + round }]),
    ),
  };
}

test('bench summary: per mode and connection count, spread over rounds, added over no mesh, CPU per 1000 requests', () => {
  const runs = [1, 2, 3].flatMap((r) => [
    run('no-mesh', 4, r, 1 + r, {}),
    run('ambient', 4, r, 2 + r, { 'node-1': 100 * r, 'node-2': 100 }),
    run('sidecar', 4, r, 5 + r, { 'sidecar-client': 300, 'sidecar-server': 300 }),
  ]);
  const pooled = (m: Mode): Latency =>
    ({ 'no-mesh': lat(1, 2), ambient: lat(1.2, 2.2), sidecar: lat(2, 4) })[m as 'ambient'];
  const points = summarize(runs, ['no-mesh', 'ambient', 'sidecar'], [4, 16], pooled);
  assert.equal(points.length, 3, 'no point for a connection count without runs');
  const amb = points.find((p) => p.mode === 'ambient')!;
  assert.deepEqual(amb.spread.p99, [3, 5], 'the rounds’ own p99s, min and max');
  assert.equal(amb.rounds, 3);
  assert.ok(
    Math.abs(amb.added.p99 - 0.2) < 1e-9 && Math.abs(amb.added.p50 - 0.2) < 1e-9,
    'pooled minus no mesh',
  );
  // Median over rounds of 100/200/300 µs per request is 0.2 s per 1000 requests.
  assert.ok(Math.abs(amb.cpuSPer1000['node-1']! - 0.2) < 1e-9);
  assert.ok(Math.abs(amb.cpuTotalSPer1000 - 0.3) < 1e-9);
  assert.equal(amb.rssMb['node-1'], 53, 'peak RSS over the rounds');
  assert.equal(amb.rssTotalMb, 106);
  const none = points.find((p) => p.mode === 'no-mesh')!;
  assert.equal(none.cpuTotalSPer1000, 0, 'no mesh process on the path without the mesh');
  const g = goalsOf(points, {
    pods: 10,
    ambient: { processes: { 'node-1': 100, 'node-2': 100 }, totalMb: 200, errors: 0 },
    sidecar: { processes: {}, totalMb: 1000, errors: 0 },
  });
  assert.equal(g.p99.length, 1);
  assert.ok(Math.abs(g.p99[0]!.ratio - 0.1) < 1e-9 && g.p99[0]!.met, '0.2 ms over 2 ms: 0.1x, met');
  assert.ok(
    g.memory && Math.abs(g.memory.ratio - 0.2) < 1e-9 && g.memory.met,
    '200 MB vs 1000 MB: 0.2x, met',
  );
});

test('bench goals: an added figure at or below zero (noise) gives no ratio and is not met', () => {
  const runs = [run('no-mesh', 1, 1, 9, {}), run('ambient', 1, 1, 3, {}), run('sidecar', 1, 1, 12, {})];
  const pooled = (m: Mode): Latency =>
    lat(1, ({ 'no-mesh': 9, ambient: 3, sidecar: 12 } as Record<string, number>)[m]!);
  const g = goalsOf(summarize(runs, ['no-mesh', 'ambient', 'sidecar'], [1], pooled), undefined);
  assert.ok(Number.isNaN(g.p99[0]!.ratio));
  assert.equal(g.p99[0]!.met, false);
  assert.equal(g.memory, undefined, 'no memory phase, no memory goal');
});

test('bench sweep: doubling rates; sustained means no errors and at least 90 % delivered', () => {
  assert.deepEqual(sweepRates(1000, 16000), [1000, 2000, 4000, 8000, 16000]);
  assert.equal(sustained(4000, 3700, 0), true);
  assert.equal(sustained(4000, 3500, 0), false, 'under 90 %');
  assert.equal(sustained(4000, 4000, 1), false, 'an error');
});

test('bench flags: --modes and --connections are checked, no mesh is always measured', () => {
  assert.deepEqual(parseModes('ambient,sidecar', MODES), ['no-mesh', 'ambient', 'sidecar']);
  assert.deepEqual(parseModes('no-mesh, waypoint,waypoint', MODES), ['no-mesh', 'waypoint']);
  assert.throws(
    () => parseModes('ambient,sidecars', MODES),
    /unknown mode "sidecars"; the modes are no-mesh/,
  );
  assert.throws(() => parseModes('haproxy', ['no-mesh', 'ambient']), /haproxy, which is not installed/);
  assert.deepEqual(parseConnections('1,4,16,64'), [1, 4, 16, 64]);
  assert.throws(() => parseConnections('4,0'), /--connections: "0" is not a whole number from 1 to 256/);
  assert.throws(() => parseConnections(','), /give at least one count/);
});
