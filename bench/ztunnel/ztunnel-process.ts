/**
 * One ztunnel as its own OS process (the compiled dist/src/ztunnel/main.js), in loopback mode with a
 * state file and a local CA directory instead of istiod; ready when its /healthz/ready says so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { ZTUNNEL_NODE_FLAGS } from '../../src/ztunnel/node-flags.js';
import { processTree, treeCpuMs, treeRssKb } from './procs.js';

export const ZTUNNEL_MAIN = fileURLToPath(new URL('../../src/ztunnel/main.js', import.meta.url));

export interface ZtunnelProcessOptions {
  node: string;
  nodeIp: string;
  stateFile: string;
  caDir: string;
  workers: number;
  logLevel?: string;
  drainDeadlineMs?: number;
  /** Extra flags (e.g. --dns-port 0). */
  args?: readonly string[];
  /** Node/V8 flags before the script; default the shipped ZTUNNEL_NODE_FLAGS. */
  nodeFlags?: readonly string[];
  /** Extra environment (e.g. NODE_CLUSTER_SCHED_POLICY=none). */
  env?: Record<string, string>;
  /** Where the process's stdout goes (default: dropped). */
  stdout?: 'ignore' | 'inherit' | 'pipe';
}

function readyStatus(host: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host, port: 15021, path: '/healthz/ready', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

export class ZtunnelProcess {
  readonly proc: ChildProcess;
  readonly opts: ZtunnelProcessOptions;
  private tree: number[] = [];
  private stopping = false;

  private constructor(proc: ChildProcess, opts: ZtunnelProcessOptions) {
    this.proc = proc;
    this.opts = opts;
  }

  /** Spawns the ztunnel (admin, metrics, readiness on its node IP) and waits until it is ready. */
  static async start(o: ZtunnelProcessOptions, timeoutMs = 20_000): Promise<ZtunnelProcess> {
    const args = [
      ...(o.nodeFlags ?? ZTUNNEL_NODE_FLAGS),
      ZTUNNEL_MAIN,
      ...['--node-name', o.node, '--node-ip', o.nodeIp, '--admin-address', o.nodeIp],
      ...['--xds-address', '', '--state-file', o.stateFile, '--local-ca-dir', o.caDir],
      ...['--workers', String(o.workers), '--log-level', o.logLevel ?? 'warn'],
      ...['--drain-deadline', `${o.drainDeadlineMs ?? 2000}ms`],
      ...(o.args ?? []),
    ];
    const proc = spawn(process.execPath, args, {
      stdio: ['ignore', o.stdout ?? 'ignore', 'inherit'],
      env: { ...process.env, ...o.env },
    });
    const z = new ZtunnelProcess(proc, o);
    proc.once('exit', (code, signal) => {
      if (!z.stopping)
        process.stderr.write(
          `bench: ztunnel ${o.node} (${o.nodeIp}) exited unasked: ${signal ?? `code ${code}`}\n`,
        );
    });
    const deadline = Date.now() + timeoutMs;
    while ((await readyStatus(o.nodeIp)) !== 200) {
      if (proc.exitCode !== null)
        throw new Error(`ztunnel ${o.node} exited with ${proc.exitCode} while starting`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`ztunnel ${o.node} not ready within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    z.tree = processTree(proc.pid!);
    return z;
  }

  /** The primary and its workers (as of start). */
  get pids(): readonly number[] {
    return this.tree;
  }

  cpuMs(): number {
    return treeCpuMs(this.tree);
  }

  rssKb(): number {
    return treeRssKb(this.tree);
  }

  /** Whether the ztunnel has exited (on its own or stopped). */
  get exited(): boolean {
    return this.proc.exitCode !== null || this.proc.signalCode !== null;
  }

  /** SIGTERM (drain), then the exit status; SIGKILL after `graceMs`. */
  stop(graceMs = 8000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.stopping = true;
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null)
      return Promise.resolve({ code: p.exitCode, signal: p.signalCode });
    return new Promise((resolve) => {
      const timer = setTimeout(() => p.kill('SIGKILL'), graceMs);
      p.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
      p.kill('SIGTERM');
    });
  }
}
