/**
 * Drain: a first-class shutdown every listener obeys.
 *
 * `start(deadlineMs)` moves through three steps:
 *  1. stop accepting: every `onDrain` callback runs (listeners close, HTTP/2 sessions send GOAWAY);
 *  2. wait while in-flight work (counted with `begin()`/the returned release) finishes;
 *  3. at the deadline, every `onForce` callback runs (close what is still open).
 * The returned promise resolves once nothing is in flight (or after forcing), with how it ended.
 */
export interface DrainResult {
  /** True when the deadline passed with work still in flight. */
  forced: boolean;
  /** How many in-flight items were still open when forcing. */
  remaining: number;
  elapsedMs: number;
}

export class Drain {
  private inFlight = 0;
  private draining = false;
  private readonly drainCbs = new Set<() => void>();
  private readonly forceCbs = new Set<() => void>();
  private idleWaiter: (() => void) | undefined;
  private result: Promise<DrainResult> | undefined;

  get isDraining(): boolean {
    return this.draining;
  }

  get active(): number {
    return this.inFlight;
  }

  /** Runs when draining starts (immediately if it already has). Returns an unsubscribe function. */
  onDrain(cb: () => void): () => void {
    if (this.draining) {
      cb();
      return () => {};
    }
    this.drainCbs.add(cb);
    return () => this.drainCbs.delete(cb);
  }

  /** Runs at the deadline if work is still in flight. Returns an unsubscribe function. */
  onForce(cb: () => void): () => void {
    this.forceCbs.add(cb);
    return () => this.forceCbs.delete(cb);
  }

  /** Counts one unit of in-flight work; call the returned function exactly once when it is done. */
  begin(): () => void {
    this.inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inFlight--;
      if (this.inFlight === 0 && this.idleWaiter) this.idleWaiter();
    };
  }

  start(deadlineMs: number): Promise<DrainResult> {
    if (this.result) return this.result;
    this.draining = true;
    const started = Date.now();
    for (const cb of this.drainCbs) safe(cb);
    this.drainCbs.clear();
    this.result = new Promise<DrainResult>((resolve) => {
      const finish = (forced: boolean, remaining: number) => {
        clearTimeout(timer);
        this.idleWaiter = undefined;
        resolve({ forced, remaining, elapsedMs: Date.now() - started });
      };
      const timer = setTimeout(() => {
        const remaining = this.inFlight;
        for (const cb of this.forceCbs) safe(cb);
        finish(true, remaining);
      }, deadlineMs);
      // Not unref'd: a process that is draining stays up until its work is done or the deadline.
      if (this.inFlight === 0) finish(false, 0);
      else this.idleWaiter = () => finish(false, 0);
    });
    return this.result;
  }
}

function safe(cb: () => void): void {
  try {
    cb();
  } catch {
    // A failing callback must not stop the others from running.
  }
}
