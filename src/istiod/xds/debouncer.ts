/**
 * Coalesces bursts of changes: fires after `quietMs` without a new change, and at the latest `maxMs`
 * after the first change of the burst (istiod: 100 ms and 10 s).
 */
export class Debouncer {
  private readonly quietMs: number;
  private readonly maxMs: number;
  private readonly fire: () => void;
  private timer: NodeJS.Timeout | undefined;
  private firstAt = 0;
  private lastAt = 0;

  constructor(quietMs: number, maxMs: number, fire: () => void) {
    this.quietMs = quietMs;
    this.maxMs = maxMs;
    this.fire = fire;
  }

  /** Records a change now. */
  touch(): void {
    const now = Date.now();
    this.lastAt = now;
    if (this.timer === undefined) {
      this.firstAt = now;
      this.arm(this.quietMs);
    }
  }

  /** Whether a burst is waiting to fire. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  /** Drops a waiting burst without firing. */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.check(), Math.max(0, ms));
    this.timer.unref();
  }

  private check(): void {
    const now = Date.now();
    const quietLeft = this.lastAt + this.quietMs - now;
    const maxLeft = this.firstAt + this.maxMs - now;
    if (quietLeft > 0 && maxLeft > 0) {
      this.arm(Math.min(quietLeft, maxLeft));
      return;
    }
    this.timer = undefined;
    this.fire();
  }
}
