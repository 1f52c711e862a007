import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultZtOptions, runZtBench } from '../../../bench/ztunnel/bench.js';
import { haproxyAvailable } from '../../../bench/hbone/haproxy.js';
import { derive, table } from '../../../bench/ztunnel/report.js';

test(
  'the ztunnel benchmark produces results for every variant, without errors',
  { timeout: 60_000 },
  async () => {
    const opts = defaultZtOptions(true);
    Object.assign(opts, {
      fixedRateMs: 400,
      connRateMs: 200,
      idleCount: 20,
      warmupMs: 0,
      rate: 500,
      net: 87,
    });
    const report = await runZtBench(opts);
    const expected = [
      'direct',
      ...(haproxyAvailable() ? ['haproxy'] : []),
      'ztunnel-w1',
      'ztunnel-w2',
      'ztunnel-w2-none',
    ];
    assert.deepEqual(Object.keys(report.results), expected);
    for (const v of expected) {
      const s = report.results[v]!;
      assert.equal(s.errors, 0, `${v}: ${s.firstError}`);
      assert.equal(
        s.fixed && report.rounds.find((r) => r.variant === v && r.result.kind === 'fixedRate')?.result.count,
        200,
      );
      assert.ok((s.conn?.perSec ?? 0) > 0, `${v}: no new connection completed`);
      if (v !== 'direct')
        assert.equal(report.idle.find((i) => i.variant === v)?.tunnels, 20, `${v}: idle tunnels`);
    }
    const text = table(report, derive(report));
    assert.match(text, /goal ztunnel-w2: added p90/);
  },
);
