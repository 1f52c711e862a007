/**
 * The kubelet role for one pod: runs each container's command inside the pod's namespace
 * (`ip netns exec`, so /etc/netns/<name>/resolv.conf is its DNS), restarts a container that exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { delimiter, dirname } from 'node:path';
import type { Container } from './manifests.js';

const NODE_PATH = [dirname(process.execPath), process.env.PATH ?? '/usr/bin:/bin'].join(delimiter);

export class PodRunner {
  private readonly children = new Map<string, ChildProcess>();
  private stopping = false;
  restarts = 0;

  constructor(
    private readonly netns: string,
    private readonly containers: Container[],
    private readonly logFile: string,
    private readonly vars: Record<string, string>,
  ) {}

  get pids(): number[] {
    return [...this.children.values()].map((c) => c.pid ?? 0).filter((p) => p > 0);
  }

  start(): void {
    for (const c of this.containers) if (c.command.length > 0 || c.args.length > 0) this.run(c);
  }

  private expand(s: string): string {
    return s.replace(/\$\(([A-Z_][A-Z0-9_]*)\)/g, (m, k: string) => this.vars[k] ?? m);
  }

  private run(c: Container): void {
    const argv = [...c.command, ...c.args].map((a) => this.expand(a));
    const log = createWriteStream(this.logFile, { flags: 'a' });
    const child = spawn('ip', ['netns', 'exec', this.netns, ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The project's Node.js first on PATH, so a container's `node` is the one the cluster runs on.
      env: { ...process.env, PATH: NODE_PATH, ...this.vars, ...c.env },
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    child.on('error', () => undefined);
    this.children.set(c.name, child);
    // 'close': after the exit and the end of its output (the log ends after the last line).
    child.once('close', (code, signal) => {
      log.end(`[kubelet] container ${c.name} exited (${signal ?? code})\n`);
      if (this.children.get(c.name) === child) this.children.delete(c.name);
      if (this.stopping) return;
      this.restarts++;
      setTimeout(() => {
        if (!this.stopping) this.run(c);
      }, 1000).unref();
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const waits = [...this.children.values()].map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          c.once('exit', () => r());
          c.kill('SIGTERM');
          setTimeout(() => c.kill('SIGKILL'), 3000).unref();
        }),
    );
    await Promise.all(waits);
  }
}
