/**
 * A bounded number of certificate fetches at once. Fetches a connection is waiting for go first
 * (urgent); pre-warming and renewals (background) fill the remaining turns. A queued background task
 * can be promoted when a connection starts waiting for it.
 */
export interface QueuedTask<T> {
  promise: Promise<T>;
  /** Moves the task to the urgent queue if it has not started yet. */
  promote(): void;
}

interface Item {
  run: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  urgent: boolean;
  started: boolean;
}

export class FetchQueue {
  private readonly limit: number;
  private readonly urgent: Item[] = [];
  private readonly background: Item[] = [];
  private running = 0;

  constructor(limit = 8) {
    if (!(limit >= 1)) throw new RangeError('FetchQueue: the limit must be at least 1');
    this.limit = limit;
  }

  get active(): number {
    return this.running;
  }

  get pending(): number {
    return this.urgent.length + this.background.length;
  }

  submit<T>(run: () => Promise<T>, urgent: boolean): QueuedTask<T> {
    let item!: Item;
    const promise = new Promise<T>((resolve, reject) => {
      item = { run, resolve: resolve as (v: unknown) => void, reject, urgent, started: false };
    });
    (urgent ? this.urgent : this.background).push(item);
    this.pump();
    return {
      promise,
      promote: () => {
        if (item.started || item.urgent) return;
        const i = this.background.indexOf(item);
        if (i >= 0) this.background.splice(i, 1);
        item.urgent = true;
        this.urgent.push(item);
        this.pump();
      },
    };
  }

  private pump(): void {
    while (this.running < this.limit) {
      const item = this.urgent.shift() ?? this.background.shift();
      if (!item) return;
      item.started = true;
      this.running++;
      let p: Promise<unknown>;
      try {
        p = item.run();
      } catch (err) {
        p = Promise.reject(err);
      }
      p.then(item.resolve, item.reject).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }
}
