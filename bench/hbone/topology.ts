/**
 * Brings up every process of the benchmark and tears it down again:
 *   server (echo/sink) · proxy A + proxy B (ours, node:http2) · the same with our own HTTP/2 framer
 *   (hbone-own) · a pair of plain Node TLS relays (node-tls, the floor of Node's TLS: proxy-tls.ts) ·
 *   haproxy A + haproxy B · load generator,
 * each its own process, all on loopback, sharing one set of certificates written to a temp dir.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startChild, stopChild, type Child } from './child.js';
import { configA, configB, freePort, startHaproxy } from './haproxy.js';
import { writeMaterials } from './materials.js';
import type { LoadTest, ResultMessage, TestResult } from './protocol.js';

export const VARIANTS = ['direct', 'hbone', 'hbone-own', 'node-tls', 'haproxy'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface TopologyOptions {
  /** Worker threads per haproxy process (1 = like for like with a single Node event loop). */
  haproxyThreads: number;
  /** Extra node flags for our proxies (e.g. `--cpu-prof`). */
  proxyExecArgv?: readonly string[];
  /** Leave out haproxy (when it is not installed). */
  withHaproxy: boolean;
}

/** CPU time (user + system, ms) a process has used so far, from /proc (0 when unavailable). */
export function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

export class Topology {
  readonly dir: string;
  /** Where the load generator connects for each variant. */
  readonly ports = new Map<Variant, number>();
  /** The two proxy processes of each variant (none for direct). */
  readonly proxies = new Map<Variant, [ChildProcess, ChildProcess]>();
  server!: Child;
  loadgen!: Child;
  private readonly children: ChildProcess[] = [];
  private nextId = 1;
  private readonly waiting = new Map<number, (r: TestResult) => void>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async start(opts: TopologyOptions): Promise<Topology> {
    const t = new Topology(mkdtempSync(join(tmpdir(), 'hbone-bench-')));
    try {
      await t.startAll(opts);
    } catch (err) {
      await t.stop();
      throw err;
    }
    return t;
  }

  private async startAll(opts: TopologyOptions): Promise<void> {
    const here = (f: string): URL => new URL(`./${f}`, import.meta.url);
    writeMaterials(this.dir);
    this.server = await startChild('echo server', here('echo-server.js'), []);
    this.children.push(this.server.proc);
    this.ports.set('direct', this.server.port);

    for (const [variant, impl] of [
      ['hbone', 'node'],
      ['hbone-own', 'own'],
    ] as const) {
      const b = await startChild(
        `proxy B (${impl})`,
        here('proxy-b.js'),
        [this.dir, impl],
        opts.proxyExecArgv,
      );
      this.children.push(b.proc);
      const a = await startChild(
        `proxy A (${impl})`,
        here('proxy-a.js'),
        [this.dir, String(b.port), String(this.server.port), impl],
        opts.proxyExecArgv,
      );
      this.children.push(a.proc);
      this.ports.set(variant, a.port);
      this.proxies.set(variant, [a.proc, b.proc]);
    }

    {
      const b = await startChild(
        'node-tls B',
        here('proxy-tls.js'),
        ['b', this.dir, String(this.server.port)],
        opts.proxyExecArgv,
      );
      this.children.push(b.proc);
      const a = await startChild(
        'node-tls A',
        here('proxy-tls.js'),
        ['a', this.dir, String(b.port)],
        opts.proxyExecArgv,
      );
      this.children.push(a.proc);
      this.ports.set('node-tls', a.port);
      this.proxies.set('node-tls', [a.proc, b.proc]);
    }

    if (opts.withHaproxy) {
      const [pa, pb] = [await freePort(), await freePort()];
      const hb = await startHaproxy(
        this.dir,
        'haproxy-b',
        configB(this.dir, pb, this.server.port, opts.haproxyThreads),
        pb,
      );
      this.children.push(hb);
      const ha = await startHaproxy(
        this.dir,
        'haproxy-a',
        configA(this.dir, pa, pb, opts.haproxyThreads),
        pa,
      );
      this.children.push(ha);
      this.ports.set('haproxy', pa);
      this.proxies.set('haproxy', [ha, hb]);
    }

    this.loadgen = await startChild('load generator', here('loadgen.js'), []);
    this.children.push(this.loadgen.proc);
    this.loadgen.proc.on('message', (m: ResultMessage) => {
      if (m.type !== 'result') return;
      this.waiting.get(m.id)?.(m.result);
      this.waiting.delete(m.id);
    });
  }

  get variants(): Variant[] {
    return VARIANTS.filter((v) => this.ports.has(v));
  }

  /** Runs one test in the load generator. */
  run(test: LoadTest): Promise<TestResult> {
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

  /** CPU ms used so far by the processes of a variant's path: [proxy A, proxy B, server, load generator]. */
  cpu(variant: Variant): [number, number, number, number] {
    const p = this.proxies.get(variant);
    return [cpuMs(p?.[0].pid), cpuMs(p?.[1].pid), cpuMs(this.server.proc.pid), cpuMs(this.loadgen.proc.pid)];
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.reverse().map((c) => stopChild(c)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
