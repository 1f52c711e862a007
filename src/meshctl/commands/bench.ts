/**
 * `meshctl bench`: the local cluster benchmark (bench/local/): no mesh, ambient L4, ambient + waypoint
 * and sidecar (plus the haproxy references) at a fixed rate and several connection counts, interleaved
 * over rounds; bulk, an optional rate sweep, the mesh's memory with N pods. Uses the running cluster,
 * or brings one up (`up --detach`) and takes it down at the end.
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
import { availableModes, defaultLocalOptions, runLocalBench } from '../../../bench/local/run.js';
import { parseConnections, parseModes } from '../../../bench/local/summary.js';
import { formatLocalReport } from '../../../bench/local/report.js';
import { latencySvg } from '../../../bench/local/svg.js';
import { addedSvg, cpuSvg } from '../../../bench/local/plots.js';
import { formatSoak, runSoak } from '../../../bench/local/soak.js';

const RESULTS = resolve(DIST_SRC, '../../bench/results');

const schema = {
  ...CLUSTER_OPTIONS,
  quick: {
    flag: 'quick',
    doc: 'smoke run: 1 round of 1.5 s per mode and point, connections 4,16, short bulk, no memory phase',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
  modes: {
    flag: 'modes',
    doc: 'modes to measure, comma-separated: no-mesh, ambient, waypoint, sidecar, haproxy, haproxy-http (no-mesh is always added: added latency is over it); default all (haproxy ones where installed)',
    default: '',
    parse: parsers.string,
  },
  connections: {
    flag: 'connections',
    doc: "connection counts, comma-separated; default Istio's 1,4,16,64 (--quick: 4,16)",
    default: '',
    parse: parsers.string,
  },
  rate: {
    flag: 'rate',
    doc: 'the fixed rate, req/s',
    default: 1000,
    parse: parsers.int(1, 100_000),
  },
  sweep: {
    flag: 'sweep',
    doc: 'also a rate sweep per mode: doubling from --rate until errors or < 90 % delivered (2 s runs)',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
  sweepConnections: {
    flag: 'sweep-connections',
    doc: 'connections of the rate sweep',
    default: 16,
    parse: parsers.int(1, 256),
  },
  memPods: {
    flag: 'mem-pods',
    doc: 'pods per mode of the memory phase (ambient vs sidecar); -1 = mode default (10, --quick 0), 0 = none',
    default: -1,
    parse: parsers.int(-1, 50),
  },
  rounds: {
    flag: 'rounds',
    doc: 'rounds (each runs every mode at every connection count, order rotated); 0 = mode default',
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
    doc: `JSON result file (SVG plots next to it: <name>-latency.svg, <name>-added.svg, <name>-cpu.svg); default ${join(RESULTS, 'local.json')} for a full run, none for --quick`,
    default: '',
    parse: parsers.string,
  },
};

const USAGE = `Usage: meshctl bench [--quick] [--modes LIST] [--connections LIST] [--rounds N] [--seconds S]
                     [--rate R] [--sweep] [--mem-pods N] [--out FILE] [--state-dir DIR]
       meshctl bench --soak 10m [--out FILE]

In the local cluster, HTTP/1.1 GET of 1 KiB at a fixed 1000 req/s, latency from the intended send
time, warm-up discarded, every mode in the same run, interleaved round by round:
  no-mesh   default/curl (node-1) -> Service echo -> default/echo (node-2), namespace default unlabelled
  ambient   the same, namespace default ambient (two ztunnels)
  waypoint  the same, ambient + istio.io/use-waypoint (the waypoint is created if missing)
  sidecar   bench-sidecar/curl (node-1) -> Service echo -> bench-sidecar/echo (node-2), both injected
            (namespace bench-sidecar, istio-injection=enabled, created for the run beside the default pair)
  haproxy, haproxy-http   references where haproxy is installed (mutual TLS pair; + a mode http hop)
Each mode at every --connections count (Istio's 1,4,16,64), >= 3 rounds with the spread shown; then
one-connection bulk; --sweep adds a rate sweep to saturation; the memory phase puts N echo pods in an
ambient namespace and then N injected pods and sums the mesh's RSS (ztunnels vs sidecars). Namespace
labels are restored and everything the bench created is removed at the end.
Prints a table with the two goals (ambient added p99 <= 0.25x sidecar's; mesh memory ambient <= 0.2x
sidecar's), writes JSON and three SVG plots. Uses the running cluster (meshctl up --detach), or brings
one up and down for the run. Needs root.

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
  const t0 = Date.now();
  const o = defaultLocalOptions(c.quick, (m) =>
    out(`  [${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}`),
  );
  try {
    if (c.modes) o.variants = parseModes(c.modes, availableModes());
    if (c.connections) o.connections = parseConnections(c.connections);
  } catch (err) {
    out(`meshctl bench: ${errorMessage(err)}`);
    return 2;
  }
  if (c.rounds) o.rounds = c.rounds;
  if (c.seconds) o.seconds = c.seconds;
  o.rate = c.rate;
  if (c.sweep) o.sweepConnections = c.sweepConnections;
  if (c.memPods >= 0) o.memPods = c.memPods;
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
  try {
    const report = await runLocalBench(cluster, o);
    out(`\n${formatLocalReport(report)}`);
    const file = c.out || (c.quick ? '' : join(RESULTS, 'local.json'));
    if (file) {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
      const base = file.replace(/\.json$/, '');
      await writeFile(`${base}-latency.svg`, latencySvg(report));
      await writeFile(`${base}-added.svg`, addedSvg(report));
      await writeFile(`${base}-cpu.svg`, cpuSvg(report));
      out(`wrote ${file} and ${base}-{latency,added,cpu}.svg`);
    }
    const errors =
      report.points.reduce((a, x) => a + x.errors, 0) +
      report.bulk.reduce((a, x) => a + x.errors, 0) +
      (report.memory?.ambient?.errors ?? 0) +
      (report.memory?.sidecar?.errors ?? 0) +
      (report.failures?.length ?? 0) +
      (report.sweep?.filter((x) => x.error).length ?? 0);
    return errors === 0 ? 0 : 1;
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
