/**
 * The waypoint benchmark's command line (bench.ts has the model and the machinery).
 *
 * Run: npx tsc -p . && node dist/bench/waypoint/run.js [--rounds 3] [--seconds 5] [--rate 1000]
 *      [--conns 4] [--builds NAME=DIST_ROOT[@nolog][@semiN],...] [--cpu-prof DIR] [--out FILE]
 * `--builds` (default `current=` this build) compares builds in one run, e.g. main's `dist` before a
 * change and this tree's after it; `@nolog` runs that waypoint with the access log off, `@semiN`
 * with V8's --max-semi-space-size=N (MB), `@--flag` with that Node/V8 flag.
 */
import { writeFileSync } from 'node:fs';
import { parseBuilds, runWaypointBench, THIS_BUILD } from './bench.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
};
const out = arg('out', '');
const report = await runWaypointBench({
  rounds: Number(arg('rounds', '3')),
  seconds: Number(arg('seconds', '5')),
  warmupSeconds: 1,
  rate: Number(arg('rate', '1000')),
  conns: Number(arg('conns', '4')),
  builds: parseBuilds(arg('builds', `current=${THIS_BUILD}`)),
  cpuProfDir: arg('cpu-prof', '') || undefined,
  progress: (l) => process.stderr.write(`${l}\n`),
});
process.stdout.write(`${report.text}\n`);
if (out) {
  const { text: _text, ...json } = report;
  writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
}
