/**
 * Runs the HBONE two-hop tunnel benchmark and prints a table; the full run writes
 * bench/results/hbone.json.
 *
 *   node dist/bench/hbone/run.js            full run: 3 rounds, under 3 minutes
 *   node dist/bench/hbone/run.js --quick    smoke run: 1 short round, under 30 s, writes nothing
 *   options: --out <file> (also with --quick), --rounds N, --haproxy-threads N,
 *            --tests fixedRate,closedLoop,bulk,tunnels, --variants direct,hbone,hbone-own,haproxy,
 *            --cpu-prof <dir> (profiles our proxies)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultOptions, runBench, TESTS } from './bench.js';
import { derive, table } from './report.js';
import type { TestKind } from './protocol.js';
import { VARIANTS, type Variant } from './topology.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    rounds: { type: 'string' },
    'haproxy-threads': { type: 'string' },
    tests: { type: 'string' },
    variants: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});

const opts = defaultOptions(values.quick ?? false);
if (values.rounds) opts.rounds = Number(values.rounds);
if (values['haproxy-threads']) opts.haproxyThreads = Number(values['haproxy-threads']);
if (values.tests) {
  const wanted = values.tests.split(',') as TestKind[];
  const unknown = wanted.filter((t) => !TESTS.includes(t));
  if (unknown.length)
    throw new Error(`unknown test(s) ${unknown.join(', ')}; choose from ${TESTS.join(', ')}`);
  opts.tests = wanted;
}
if (values.variants) {
  const wanted = values.variants.split(',') as Variant[];
  const unknown = wanted.filter((v) => !VARIANTS.includes(v));
  if (unknown.length)
    throw new Error(`unknown variant(s) ${unknown.join(', ')}; choose from ${VARIANTS.join(', ')}`);
  opts.variants = wanted;
}
if (values['cpu-prof']) {
  const dir = resolve(values['cpu-prof']);
  mkdirSync(dir, { recursive: true });
  opts.proxyExecArgv = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}
opts.log = (line) => process.stderr.write(`${line}\n`);

const started = Date.now();
const report = await runBench(opts);
const derived = derive(report);
process.stdout.write(
  `\nHBONE two-hop tunnel vs haproxy mTLS two-hop vs direct TCP (${report.meta.date}, nproc ${report.meta.nproc}, ` +
    `node ${report.meta.node}, haproxy ${report.meta.haproxy ?? 'absent'} x${report.meta.haproxyThreads} thread, ` +
    `${report.settings.rounds} round(s), ${((Date.now() - started) / 1000).toFixed(0)} s)\n\n${table(report, derived)}\n`,
);
const defaultOut = values.quick
  ? undefined
  : fileURLToPath(new URL('../../../bench/results/hbone.json', import.meta.url));
const out = values.out ? resolve(values.out) : defaultOut;
if (out) {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ ...report, ...derived }, null, 2) + '\n');
  process.stdout.write(`\nwrote ${out}\n`);
}
