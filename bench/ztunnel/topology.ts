/**
 * Brings up every process of the ztunnel benchmark and tears it down again:
 *   HTTP server · haproxy A + B (the HBONE benchmark's reference) · for each worker count a pair of
 *   ztunnels (node-1: the client pod's, node-2: the server pod's) · load generator,
 * each its own process, all on loopback. Each ztunnel pair has its own addresses (127.<net>.*), its
 * own state file and CA, and the server listens on each pair's server pod IP.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild, stopChild, type Child } from '../hbone/child.js';
import { cpuMs } from '../hbone/topology.js';
import { configA, configB, freePort, startHaproxy } from '../hbone/haproxy.js';
import { writeMaterials } from '../hbone/materials.js';
import { meshAddresses, writeCaDir, writeStateFile, type MeshAddresses } from './mesh-files.js';
import type { Target, ZtLoadTest, ZtResultMessage, ZtTestResult } from './protocol.js';
import { processTree, treeRssKb } from './procs.js';
import { ZtunnelProcess } from './ztunnel-process.js';

/** `direct`, `haproxy`, or `ztunnel-wN` (a pair of ztunnels with --workers N). */
export type ZtVariant = string;

/**
 * One pair of ztunnels: --workers N, and how the cluster primary hands out connections (Node's default
 * round robin, or `none`: the workers accept from the shared socket themselves).
 */
export interface ZtPairSpec {
  workers: number;
  sched?: 'rr' | 'none';
}

export function variantOf(p: ZtPairSpec): ZtVariant {
  return `ztunnel-w${p.workers}${p.sched === 'none' ? '-none' : ''}`;
}

/** `1`, `2`, `2:none` → pair specs. */
export function parsePairs(text: string): ZtPairSpec[] {
  return text.split(',').map((item) => {
    const [n, sched] = item.split(':');
    const workers = Number(n);
    if (!Number.isInteger(workers) || workers < 1 || (sched && sched !== 'rr' && sched !== 'none'))
      throw new Error(`bad ztunnel pair "${item}": give N or N:rr or N:none (N = --workers)`);
    return { workers, sched: sched as ZtPairSpec['sched'] };
  });
}

export interface ZtTopologyOptions {
  /** The ztunnel pairs to run. */
  pairs: readonly ZtPairSpec[];
  withHaproxy: boolean;
  haproxyThreads: number;
  /** Second octet of the first pair's addresses; pair i uses net + i. */
  net: number;
}

/** The two proxies of a variant, as process trees: [client side (node-1 / A), server side (node-2 / B)]. */
interface Hops {
  a: () => readonly number[];
  b: () => readonly number[];
}

export class ZtTopology {
  readonly dir: string;
  readonly targets = new Map<ZtVariant, Target>();
  readonly hops = new Map<ZtVariant, Hops>();
  readonly ztunnels: ZtunnelProcess[] = [];
  server!: Child;
  loadgen!: Child;
  private readonly children: ChildProcess[] = [];
  private nextId = 1;
  private readonly waiting = new Map<number, (r: ZtTestResult) => void>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async start(o: ZtTopologyOptions): Promise<ZtTopology> {
    const t = new ZtTopology(mkdtempSync(join(tmpdir(), 'zt-bench-')));
    try {
      await t.startAll(o);
    } catch (err) {
      await t.stop();
      throw err;
    }
    return t;
  }

  get variants(): ZtVariant[] {
    return [...this.targets.keys()];
  }

  private async startAll(o: ZtTopologyOptions): Promise<void> {
    const here = (f: string): URL => new URL(`./${f}`, import.meta.url);
    const pairs: Array<{ spec: ZtPairSpec; a: MeshAddresses }> = o.pairs.map((spec, i) => ({
      spec,
      a: meshAddresses(o.net + i),
    }));
    this.server = await startChild(
      'http server',
      here('http-server.js'),
      pairs.map((p) => `${p.a.server}:${p.a.serverPort}`),
    );
    this.children.push(this.server.proc);
    this.targets.set('direct', { via: 'tcp', host: '127.0.0.1', port: this.server.port });

    if (o.withHaproxy) {
      writeMaterials(this.dir);
      const [pa, pb] = [await freePort(), await freePort()];
      const hb = await startHaproxy(
        this.dir,
        'haproxy-b',
        configB(this.dir, pb, this.server.port, o.haproxyThreads),
        pb,
      );
      this.children.push(hb);
      const ha = await startHaproxy(this.dir, 'haproxy-a', configA(this.dir, pa, pb, o.haproxyThreads), pa);
      this.children.push(ha);
      this.targets.set('haproxy', { via: 'tcp', host: '127.0.0.1', port: pa });
      this.hops.set('haproxy', { a: () => [ha.pid!], b: () => [hb.pid!] });
    }

    writeCaDir(this.dir);
    for (const [i, { spec, a }] of pairs.entries()) {
      const stateFile = writeStateFile(this.dir, a, `state-${i}.yaml`);
      const common = {
        stateFile,
        caDir: this.dir,
        workers: spec.workers,
        args: ['--dns-port', '0'],
        env: spec.sched ? { NODE_CLUSTER_SCHED_POLICY: spec.sched } : undefined,
      };
      const z1 = await ZtunnelProcess.start({ ...common, node: 'node-1', nodeIp: a.node1 });
      this.ztunnels.push(z1);
      const z2 = await ZtunnelProcess.start({ ...common, node: 'node-2', nodeIp: a.node2 });
      this.ztunnels.push(z2);
      const v = variantOf(spec);
      this.targets.set(v, {
        via: 'socks5',
        proxy: { host: a.node1, port: 15080 },
        localAddress: a.client,
        dst: { ip: a.server, port: a.serverPort },
      });
      this.hops.set(v, { a: () => z1.pids, b: () => z2.pids });
    }

    this.loadgen = await startChild('load generator', here('loadgen.js'), []);
    this.children.push(this.loadgen.proc);
    this.loadgen.proc.on('message', (m: ZtResultMessage) => {
      if (m.type !== 'result') return;
      this.waiting.get(m.id)?.(m.result);
      this.waiting.delete(m.id);
    });
  }

  /** Runs one test in the load generator. */
  run(test: ZtLoadTest): Promise<ZtTestResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error('bench: the load generator exited during a test'));
      this.loadgen.proc.once('exit', onExit);
      this.waiting.set(id, (r) => {
        this.loadgen.proc.off('exit', onExit);
        resolve(r);
      });
      this.loadgen.proc.send({ type: 'run', id, test });
    });
  }

  /** CPU ms so far: [client-side proxy, server-side proxy, server, load generator] (all processes of each). */
  cpu(v: ZtVariant): [number, number, number, number] {
    const h = this.hops.get(v);
    const sum = (pids: readonly number[] | undefined): number =>
      (pids ?? []).reduce((s, p) => s + cpuMs(p), 0);
    return [sum(h?.a()), sum(h?.b()), cpuMs(this.server.proc.pid), cpuMs(this.loadgen.proc.pid)];
  }

  /** Resident memory (KiB) of the two proxies of a variant: [client side, server side]. */
  rss(v: ZtVariant): [number, number] {
    const h = this.hops.get(v);
    if (!h) return [0, 0];
    // haproxy may fork helpers; take the whole tree of each.
    const tree = (pids: readonly number[]): number[] => pids.flatMap((p) => processTree(p));
    return [treeRssKb([...new Set(tree(h.a()))]), treeRssKb([...new Set(tree(h.b()))])];
  }

  async stop(): Promise<void> {
    await Promise.all(this.ztunnels.map((z) => z.stop()));
    await Promise.all(this.children.reverse().map((c) => stopChild(c)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
