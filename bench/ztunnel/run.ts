/**
 * Runs the ztunnel benchmark and prints a table; the full run writes bench/results/ztunnel.json.
 *
 *   node dist/bench/ztunnel/run.js            full run: 3 rounds, ~2-3 minutes
 *   node dist/bench/ztunnel/run.js --quick    smoke run: 1 short round, ~30 s, writes nothing
 *   options: --out <file>, --rounds N, --workers 1,2,2:none (ztunnel pairs: --workers N and the
 *            cluster scheduling, rr or none), --idle N, --net N (second octet of the
 *            ztunnels' 127.x addresses), --haproxy-threads N
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultZtOptions, runZtBench } from './bench.js';
import { derive, table } from './report.js';
import { parsePairs } from './topology.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    rounds: { type: 'string' },
    workers: { type: 'string' },
    idle: { type: 'string' },
    net: { type: 'string' },
    'haproxy-threads': { type: 'string' },
  },
});

const opts = defaultZtOptions(values.quick ?? false);
if (values.rounds) opts.rounds = Number(values.rounds);
if (values.workers) opts.pairs = parsePairs(values.workers);
if (values.idle) opts.idleCount = Number(values.idle);
if (values.net) opts.net = Number(values.net);
if (values['haproxy-threads']) opts.haproxyThreads = Number(values['haproxy-threads']);
opts.log = (line) => process.stderr.write(`${line}\n`);

const report = await runZtBench(opts);
const derived = derive(report);
process.stdout.write(
  `\nztunnel: HTTP/1.1 1 KiB through two ztunnels vs haproxy two-hop vs direct (${report.meta.date}, ` +
    `nproc ${report.meta.nproc}, node ${report.meta.node}, haproxy ${report.meta.haproxy ?? 'absent'}, ` +
    `${report.settings.rounds} round(s), ${report.meta.elapsedS} s)\n\n${table(report, derived)}\n`,
);
const defaultOut = values.quick
  ? undefined
  : fileURLToPath(new URL('../../../bench/results/ztunnel.json', import.meta.url));
const out = values.out ? resolve(values.out) : defaultOut;
if (out) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ ...report, ...derived }, null, 2) + '\n');
  process.stdout.write(`\nwrote ${out}\n`);
}
