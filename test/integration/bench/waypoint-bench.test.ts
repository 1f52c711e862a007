import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runWaypointBench, THIS_BUILD } from '../../../bench/waypoint/bench.js';

test(
  'the waypoint benchmark measures every variant (no mesh, ambient, waypoint) without errors',
  { timeout: 60_000 },
  async () => {
    const report = await runWaypointBench({
      rounds: 1,
      seconds: 0.4,
      warmupSeconds: 0.1,
      rate: 250,
      conns: 2,
      builds: [{ name: 'current', root: THIS_BUILD, accessLog: true, nodeArgs: [] }],
    });
    for (const v of ['direct', 'ambient', 'wp:current']) {
      const r = report.table.find((t) => t.variant === v);
      assert.ok(r, `no result for ${v}`);
      assert.equal(r.errors, 0, `${v}: errors`);
      assert.equal(r.completed, 100, `${v}: every request answered`);
    }
    const wp = report.table.find((t) => t.variant === 'wp:current')!;
    assert.ok(wp.cpuUsPerRequest.waypoint! > 0, 'the waypoint process CPU was measured');
    assert.match(report.text, /wp:current: waypoint added p90 \/ ambient added p90/);
  },
);
