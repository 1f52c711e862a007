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
