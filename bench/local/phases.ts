/**
 * The two phases of `meshctl bench` after the interleaved rounds:
 *
 * - the rate sweep (`--sweep`): per mode, the fixed-rate run at doubling rates (short runs) until a
 *   rate is not sustained (an error, or under 90 % of it delivered); the last sustained rate is the
 *   mode's maximum (within a factor 2);
 * - the mesh's memory with N application pods (`--mem-pods`): N echo pods in an ambient namespace,
 *   light traffic to them, peak RSS of the ztunnels (the whole mesh data plane in ambient); then N
 *   injected pods, the same traffic, peak RSS of their N sidecars (the mesh data plane in sidecar
 *   mode; the ztunnels are not on that path and not counted, as Istio's sidecar mode has none).
 */
import { errorMessage } from '../../src/common/errors.js';
import { readClusterFile } from '../../src/local/cluster/state.js';
import { ztunnelSchema } from '../../src/ztunnel/config.js';
import { BenchObjects, MEM_NS, memoryObjects, sidecarPid, waitForNoPods, waitForPods } from './bench-pods.js';
import type { RateOutput } from './loadgen.js';
import { percentile } from '../hbone/stats.js';
import { ProcWatch } from './proc-stats.js';
import { captured, loadgen, waitUntil, type BenchPaths } from './paths.js';
import { sustained, sweepRates, type MemoryPhase, type Mode, type Sweep, type SweepStep } from './summary.js';

export interface SweepOptions {
  connections: number;
  seconds: number;
  warmup: number;
  start: number;
  max: number;
  size: number;
}

export async function runSweep(
  paths: BenchPaths,
  modes: readonly Mode[],
  o: SweepOptions,
  p: (m: string) => void,
): Promise<Sweep[]> {
  const out: Sweep[] = [];
  for (const m of modes) {
    // A mode whose path does not answer gets no sweep (the reason kept); the others still run.
    const err = await paths.switchTo(m).then(
      () => undefined,
      (e: unknown) => errorMessage(e),
    );
    if (err) {
      p(`sweep ${m}: ${err}`);
      out.push({ mode: m, connections: o.connections, steps: [], maxSustained: 0, error: err });
      continue;
    }
    const steps: SweepStep[] = [];
    for (const rate of sweepRates(o.start, o.max)) {
      const g = await loadgen<RateOutput>(
        paths.stateDir,
        [
          '--mode',
          'rate',
          ...paths.targetOf(m),
          '--rate',
          String(rate),
          '--conns',
          String(o.connections),
          '--seconds',
          String(o.seconds),
          '--warmup',
          String(o.warmup),
          '--size',
          String(o.size),
        ],
        paths.clientRef(m),
      );
      const achieved = g.completed / g.wallSeconds;
      const s = Float64Array.from(g.latencyUs).sort();
      const step = {
        rate,
        achieved,
        errors: g.errors,
        p99: percentile(s, 0.99) / 1000,
        sustained: sustained(rate, achieved, g.errors),
      };
      steps.push(step);
      p(
        `sweep ${m}: ${rate} req/s on ${o.connections} connections -> ${achieved.toFixed(0)} req/s, ${g.errors} errors${step.sustained ? '' : ' (not sustained)'}`,
      );
      if (!step.sustained) break;
    }
    const ok = steps.filter((x) => x.sustained);
    out.push({
      mode: m,
      connections: o.connections,
      steps,
      maxSustained: ok.length ? ok[ok.length - 1]!.rate : 0,
    });
  }
  return out;
}

/** Light traffic from `client` to Service `app` of `ns`: `2 * pods` connections, 3 s at 100 req/s per pod. */
async function traffic(
  paths: BenchPaths,
  client: Mode,
  ns: string,
  pods: number,
  watch: ProcWatch,
): Promise<number> {
  // The cluster publishes a Service's address when it reconciles, which may come after its pods run.
  const find = async () =>
    (await readClusterFile(paths.stateDir))?.services.find((s) => s.namespace === ns && s.name === 'app');
  await waitUntil(`Service ${ns}/app to have an address`, async () => !!(await find()), 30_000);
  const svc = (await find())!;
  await waitUntil(
    `Service ${ns}/app to answer`,
    async () => {
      const g = await loadgen<RateOutput>(
        paths.stateDir,
        [
          '--mode',
          'rate',
          '--host',
          svc.clusterIP,
          '--port',
          '8080',
          '--rate',
          '50',
          '--conns',
          '1',
          '--seconds',
          '0.2',
          '--warmup',
          '0',
        ],
        paths.clientRef(client),
      ).catch(() => undefined);
      return g !== undefined && g.errors === 0;
    },
    60_000,
  );
  watch.begin();
  const g = await loadgen<RateOutput>(
    paths.stateDir,
    [
      '--mode',
      'rate',
      '--host',
      svc.clusterIP,
      '--port',
      '8080',
      '--rate',
      String(100 * pods),
      '--conns',
      String(2 * pods),
      '--seconds',
      '3',
      '--warmup',
      '0.5',
    ],
    paths.clientRef(client),
  );
  return g.errors;
}

const totalOf = (r: Record<string, number>): number => Object.values(r).reduce((a, x) => a + x, 0);

export async function runMemory(paths: BenchPaths, n: number, p: (m: string) => void): Promise<MemoryPhase> {
  const out: MemoryPhase = { pods: n };
  const objs = new BenchObjects(paths.configDir);
  try {
    // The ztunnels carried every mode's bulk transfer just before: the C heap those buffers freed goes
    // back to the kernel at their next heap trim (--memory-trim-interval). The phase measures memory
    // with the pods at rest, so it starts one interval later (the bulk line reports the peak itself).
    const settle = ztunnelSchema.memoryTrimInterval.default + 1000;
    p(`memory: ${settle / 1000} s for the ztunnels' heap trim after the bulk phase`);
    await new Promise((r) => setTimeout(r, settle));
    // Ambient: the client is default/curl in ambient mode; the mesh is the ztunnels.
    await paths.switchTo('ambient');
    p(`memory: ${n} echo pods in namespace ${MEM_NS.ambient} (ambient)`);
    await objs.write(memoryObjects('ambient', n));
    const amb = await waitForPods(paths.stateDir, MEM_NS.ambient, n, false);
    for (const pod of amb) await waitUntil(`${pod.name} to be enrolled`, () => captured(pod.netns), 60_000);
    let w = new ProcWatch(paths.ztunnelPids());
    const ambErrors = await traffic(paths, 'ambient', MEM_NS.ambient, n, w);
    const za = w.end();
    const ambRss = Object.fromEntries(Object.entries(za).map(([k, u]) => [k, u.rssMb]));
    out.ambient = { processes: ambRss, totalMb: totalOf(ambRss), errors: ambErrors };
    p(`memory ambient: ztunnels ${out.ambient.totalMb.toFixed(0)} MB with ${n} pods (${ambErrors} errors)`);
    await objs.removeAll();
    await waitForNoPods(paths.stateDir, MEM_NS.ambient, 60_000);
    // Sidecar: the client is bench-sidecar/curl; the mesh is the pods' sidecars.
    p(`memory: ${n} echo pods in namespace ${MEM_NS.sidecar} (istio-injection=enabled)`);
    await objs.write(memoryObjects('sidecar', n));
    const sc = await waitForPods(paths.stateDir, MEM_NS.sidecar, n, true);
    w = new ProcWatch(new Map(sc.map((pod) => [pod.name, sidecarPid(pod)!])));
    const scErrors = await traffic(paths, 'sidecar', MEM_NS.sidecar, n, w);
    const ss = w.end();
    const scRss = Object.fromEntries(Object.entries(ss).map(([k, u]) => [k, u.rssMb]));
    out.sidecar = { processes: scRss, totalMb: totalOf(scRss), errors: scErrors };
    p(`memory sidecar: ${n} sidecars ${out.sidecar.totalMb.toFixed(0)} MB (${scErrors} errors)`);
  } finally {
    await objs.removeAll();
    await waitForNoPods(paths.stateDir, MEM_NS.ambient, 60_000);
    await waitForNoPods(paths.stateDir, MEM_NS.sidecar, 60_000);
  }
  return out;
}
