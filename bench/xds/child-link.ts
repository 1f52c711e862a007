import { fork, type ChildProcess } from 'node:child_process';
import type { FromChild, ToChild } from './clients.js';

/** One client process: messages queued in order, awaited one at a time. */
export class ChildLink {
  private readonly child: ChildProcess;
  private readonly queue: FromChild[] = [];
  private waiter: { resolve: (m: FromChild) => void; reject: (e: Error) => void } | undefined;
  private exited: Error | undefined;

  constructor(script: string, args: string[]) {
    this.child = fork(script, args, {
      execArgv: process.env.XDS_BENCH_CHILD_ARGS ? process.env.XDS_BENCH_CHILD_ARGS.split(' ') : [],
    });
    this.child.on('message', (m: FromChild) => {
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w.resolve(m);
      else this.queue.push(m);
    });
    this.child.on('exit', (code) => {
      this.exited = new Error(`client process exited (${code})`);
      this.waiter?.reject(this.exited);
    });
  }

  send(m: ToChild): void {
    this.child.send(m);
  }

  /** The next message; fails if it is not of the expected kind. */
  async next<E extends FromChild['ev']>(ev: E): Promise<Extract<FromChild, { ev: E }>> {
    const m =
      this.queue.shift() ??
      (await new Promise<FromChild>((resolve, reject) => {
        if (this.exited) reject(this.exited);
        else this.waiter = { resolve, reject };
      }));
    if (m.ev !== ev) throw new Error(`expected ${ev} from a client process, got ${m.ev}`);
    return m as Extract<FromChild, { ev: E }>;
  }
}
