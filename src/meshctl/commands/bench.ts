/**
 * `meshctl bench`: the local cluster benchmark (bench/local/): no mesh against ambient L4 at a fixed
 * rate, repeated, plus bulk throughput; ztunnel CPU and memory. Uses the running cluster, or brings one
 * up (`up --detach`) and takes it down at the end.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parsers } from '../../common/config.js';
import { errorMessage } from '../../common/errors.js';
import { parseCommand } from '../options.js';
import { DIST_SRC } from '../../local/cluster/cluster.js';
import { readClusterFile, type ClusterFile } from '../../local/cluster/state.js';
import { preflight } from '../../local/cluster/preflight.js';
import { CLUSTER_OPTIONS } from './up.js';
import { defaultLocalOptions, runLocalBench } from '../../../bench/local/run.js';
import { formatLocalReport } from '../../../bench/local/report.js';
import { latencySvg } from '../../../bench/local/svg.js';
import { formatSoak, runSoak } from '../../../bench/local/soak.js';

const RESULTS = resolve(DIST_SRC, '../../bench/results');

const schema = {
  ...CLUSTER_OPTIONS,
  quick: {
    flag: 'quick',
    doc: 'smoke run: 1 round of 2 s per variant, 1 s bulk (~15 s)',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
  rounds: {
    flag: 'rounds',
    doc: 'rounds (each runs every variant, order rotated); 0 = mode default',
    default: 0,
    parse: parsers.int(0, 20),
  },
  seconds: {
    flag: 'seconds',
    doc: 'measured seconds per fixed-rate run; 0 = mode default',
    default: 0,
    parse: parsers.int(0, 600),
  },
  soak: {
    flag: 'soak',
    doc: 'instead: a soak of ambient L4 at 1000 req/s for this long (e.g. 10m), RSS growth of the ztunnels',
    default: 0,
    parse: parsers.duration,
  },
  out: {
    flag: 'out',
    doc: `JSON result file (an SVG plot is written next to it as <name>-latency.svg); default ${join(RESULTS, 'local.json')} for a full run, none for --quick`,
    default: '',
    parse: parsers.string,
  },
};

const USAGE = `Usage: meshctl bench [--quick] [--rounds N] [--seconds S] [--out FILE] [--state-dir DIR]
       meshctl bench --soak 10m [--out FILE]

In the local cluster: default/curl (node-1) -> Service echo (node-2), HTTP/1.1 GET of 1 KiB at a fixed
1000 req/s on 4 connections, latency from the intended send time: no mesh, ambient L4, ambient +
the namespace's waypoint (created for the run if missing, then deleted), and as references (where
haproxy is installed) a pair of haproxies with mutual TLS and the same with an haproxy mode http hop
in the waypoint's pod; the namespace labels are switched at runtime and restored; rotated over
several rounds; then one-connection bulk throughput for each. Prints a table, writes JSON and an SVG latency plot. Uses the
running cluster (meshctl up --detach), or brings one up and down for the run. Needs root.

--soak DURATION runs ambient L4 alone at 1000 req/s for DURATION (bounded) and reports errors and
the growth of each ztunnel's RSS (goal: none, under 10 %); JSON to --out if given.`;

async function meshctl(args: string[]): Promise<number> {
  const child = spawn(process.execPath, [join(DIST_SRC, 'meshctl/main.js'), ...args], { stdio: 'inherit' });
  return new Promise((r) => child.on('exit', (c) => r(c ?? 1)));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, schema, argv);
  if (!args) return 0;
  const c = args.config;
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  const pre = await preflight();
  if (!pre.ok) {
    out(`meshctl bench: the local cluster needs ${pre.missing.join(', ')}`);
    return 2;
  }
  const cl = ['--state-dir', c.stateDir, '--name', c.name];
  let cluster: ClusterFile | undefined = await readClusterFile(c.stateDir);
  let ours = false;
  if (!cluster || !alive(cluster.pid)) {
    out('meshctl bench: no running cluster; bringing one up (meshctl up --detach)');
    if ((await meshctl(['up', '--detach', '--no-demo', ...cl])) !== 0) return 1;
    ours = true;
    cluster = await readClusterFile(c.stateDir);
    if (!cluster) return 1;
  }
  if (c.soak > 0) return soak(cluster, c.soak, c.out, out, ours ? cl : undefined);
  const o = defaultLocalOptions(c.quick, (m) => out(`  ${m}`));
  if (c.rounds) o.rounds = c.rounds;
  if (c.seconds) o.seconds = c.seconds;
  try {
    const report = await runLocalBench(cluster, o);
    out(`\n${formatLocalReport(report)}`);
    const file = c.out || (c.quick ? '' : join(RESULTS, 'local.json'));
    if (file) {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
      const svg = file.replace(/\.json$/, '') + '-latency.svg';
      await writeFile(svg, latencySvg(report));
      out(`wrote ${file} and ${svg}`);
    }
    return Object.values(report.summary).every((x) => x.errors === 0) ? 0 : 1;
  } catch (err) {
    out(errorMessage(err));
    return 1;
  } finally {
    if (ours) await meshctl(['down', ...cl]);
  }
}

async function soak(
  cluster: ClusterFile,
  ms: number,
  file: string,
  out: (s: string) => void,
  takeDown: string[] | undefined,
): Promise<number> {
  try {
    const r = await runSoak(cluster, {
      seconds: Math.round(ms / 1000),
      rate: 1000,
      conns: 4,
      chunk: 30,
      progress: (m) => out(`  ${m}`),
    });
    out(`\n${formatSoak(r)}`);
    if (file) {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, `${JSON.stringify(r, null, 2)}\n`);
      out(`wrote ${file}`);
    }
    return r.errors === 0 ? 0 : 1;
  } catch (err) {
    out(errorMessage(err));
    return 1;
  } finally {
    if (takeDown) await meshctl(['down', ...takeDown]);
  }
}
