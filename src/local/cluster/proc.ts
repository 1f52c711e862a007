/**
 * A child process of the cluster: output appended to a log file, JSON lines watched for readiness.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';

export class Proc {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>> = [];
  readonly exited: Promise<number | null>;
  private waiters: Array<() => void> = [];

  constructor(
    readonly name: string,
    file: string,
    args: string[],
    logFile: string,
    env: Record<string, string> = {},
  ) {
    const log = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    this.child.stderr!.pipe(log, { end: false });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      log.write(`${l}\n`);
      if (this.lines.length > 5000) this.lines.splice(0, 1000);
      try {
        this.lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        this.lines.push({ msg: l });
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.exited = new Promise((r) =>
      this.child.once('exit', (code) => {
        log.end();
        for (const w of this.waiters.splice(0)) w();
        r(code);
      }),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    what: string,
    ms = 20_000,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`${this.name}: no ${what} within ${ms} ms (see its log)`)),
        ms,
      );
      const check = (): void => {
        const hit = this.lines.find(pred);
        if (hit) {
          clearTimeout(t);
          resolve(hit);
        } else if (!this.running) {
          clearTimeout(t);
          reject(new Error(`${this.name} exited before ${what} (see its log)`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  async stop(ms = 8000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), ms);
    await this.exited;
    clearTimeout(t);
  }
}

/** Backoff of a supervised restart: 1 s doubling to 30 s, back to 1 s after a minute of good running. */
export const RESTART_BACKOFF = { firstMs: 1000, maxMs: 30_000, resetAfterMs: 60_000 };

export interface SupervisedOptions {
  /** Starts a new process (the first one and each restart). */
  spawn: () => Proc;
  /** Runs after each restart (wait for readiness, hand state over); a failure kills the new process. */
  afterRestart: (p: Proc) => Promise<void>;
  /** A line for the user: exits, restarts, failures. */
  report: (msg: string) => void;
}

/**
 * A process the cluster keeps running, as the kubelet keeps a DaemonSet's or Deployment's pod: when it
 * exits (other than through stop()) it is started again after a backoff, and `restarts` counts it.
 */
export class Supervised {
  proc: Proc;
  restarts = 0;
  private stopped = false;
  private backoffMs = RESTART_BACKOFF.firstMs;
  private timer: NodeJS.Timeout | undefined;
  private startedAt = Date.now();

  constructor(
    readonly name: string,
    private readonly o: SupervisedOptions,
  ) {
    this.proc = o.spawn();
    this.watch(this.proc);
  }

  get pid(): number | undefined {
    return this.proc.running ? this.proc.child.pid : undefined;
  }

  private watch(p: Proc): void {
    void p.exited.then((code) => {
      if (this.stopped || p !== this.proc) return;
      if (Date.now() - this.startedAt > RESTART_BACKOFF.resetAfterMs)
        this.backoffMs = RESTART_BACKOFF.firstMs;
      const why = p.child.signalCode ?? `code ${code}`;
      this.o.report(`${this.name} exited (${why}); restarting in ${this.backoffMs / 1000} s`);
      this.timer = setTimeout(() => void this.restart(), this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, RESTART_BACKOFF.maxMs);
    });
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    this.restarts++;
    this.startedAt = Date.now();
    const p = this.o.spawn();
    this.proc = p;
    this.watch(p);
    try {
      await this.o.afterRestart(p);
      this.o.report(`${this.name} restarted (pid ${p.child.pid}, restart ${this.restarts})`);
    } catch (err) {
      this.o.report(`${this.name}: restart failed: ${err instanceof Error ? err.message : String(err)}`);
      if (p.running) p.child.kill('SIGKILL');
    }
  }

  /**
   * A rolling replacement: starts a new process beside the running one, waits until `ready` says it
   * has taken over, then asks the old one to stop (SIGTERM: it drains) and returns its exit. If the
   * new one fails to become ready it is killed and the old one keeps running.
   */
  async replace(ready: (p: Proc) => Promise<void>): Promise<{ old: Proc; drained: Promise<number | null> }> {
    const old = this.proc;
    const next = this.o.spawn();
    this.proc = next;
    this.watch(next);
    try {
      await ready(next);
    } catch (err) {
      this.proc = old;
      if (next.running) next.child.kill('SIGKILL');
      throw err;
    }
    this.startedAt = Date.now();
    if (old.running) old.child.kill('SIGTERM');
    return { old, drained: old.exited };
  }

  /**
   * From now on an exit is final: no restart and no report. A teardown calls it on every process first,
   * since a Ctrl-C reaches the whole process group and one may exit before its turn to be stopped.
   */
  quiesce(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  async stop(): Promise<void> {
    this.quiesce();
    await this.proc.stop();
  }
}
