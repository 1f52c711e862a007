import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultOptions, runBench, TESTS } from '../../../bench/hbone/bench.js';
import { haproxyAvailable } from '../../../bench/hbone/haproxy.js';
import { derive, table } from '../../../bench/hbone/report.js';

test(
  'the HBONE tunnel benchmark produces results for every variant and test, without errors',
  { skip: haproxyAvailable() ? false : 'haproxy is not installed (set HAPROXY_BIN)', timeout: 60_000 },
  async () => {
    const opts = defaultOptions(true);
    opts.durations = { fixedRate: 600, closedLoop: 400, bulk: 400, tunnels: 300 };
    opts.warmupMs = 100;
    opts.rate = 500;
    const report = await runBench(opts);
    for (const variant of ['direct', 'hbone', 'hbone-own', 'node-tls', 'haproxy'] as const) {
      for (const kind of TESTS) {
        const s = report.results[variant]?.[kind];
        assert.ok(s, `${variant} ${kind}: no result`);
        assert.ok(s.count > 0, `${variant} ${kind}: nothing completed`);
        assert.equal(s.errors, 0, `${variant} ${kind}: ${s.firstError}`);
      }
    }
    // The fixed-rate test answered every request it sent.
    assert.equal(report.results.hbone?.fixedRate?.count, 300);
    assert.equal(report.results['hbone-own']?.fixedRate?.count, 300);
    assert.equal(report.results['node-tls']?.fixedRate?.count, 300);
    const derived = derive(report);
    assert.ok(
      derived.ratios['hbone-own']?.['bulk MB/s'] !== undefined,
      'a bulk ratio to haproxy for hbone-own',
    );
    const text = table(report, derived);
    assert.match(text, /new tunnels\/s/);
    assert.match(text, /hbone-own \/ haproxy: CPU µs\/req/);
    assert.match(text, /node-tls \/ haproxy: CPU µs\/req/);
  },
);
