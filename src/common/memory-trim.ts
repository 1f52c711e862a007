import type { Logger } from './logger.js';
import { fullGc } from './full-gc.js';
import { mallocTrim } from '../native/index.js';

const MiB = 1024 * 1024;

/** The waypoint's, sidecar's and ingress gateway's trim interval (ztunnel: --memory-trim-interval). */
export const L7_MEMORY_TRIM_MS = 10_000;

/**
 * Gives freed memory back to the kernel after a burst. Every `intervalMs` it compares the resident
 * size with its low mark; only when it is `thresholdMb` above does it run a full garbage collection
 * (Buffers that died in V8's old generation hold their memory until one; since the proxies count
 * Buffer memory in the heap's global limit, a burst no longer forces one: data-path-gc.ts) and then
 * malloc_trim (a walk of glibc's free lists): a few ms each on heaps of tens of MB, not every tick.
 * When a trim released little, the growth is live memory (more pods, more connections) and becomes
 * the new low mark; when it released much, the mark stays, so the next tick trims again what a burst
 * still running then leaves behind. Steady traffic costs one comparison a tick. Without it a ztunnel stayed
 * at a bulk transfer's high-water mark (+35 MB measured, all of it free): docs/runtime.md.
 */
export class MemoryTrim {
  private timer: NodeJS.Timeout | undefined;
  private floor: number;
  private readonly rss: () => number;
  private readonly trim: () => boolean;
  private readonly collect: () => boolean;

  constructor(
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly thresholdMb = 8,
    /** The resident size, the full collection and the trim (tests give their own). */
    deps: { rss?: () => number; collect?: () => boolean; trim?: () => boolean } = {},
  ) {
    this.rss = deps.rss ?? process.memoryUsage.rss;
    this.trim = deps.trim ?? mallocTrim;
    this.collect = deps.collect ?? fullGc;
    this.floor = this.rss();
    this.tick = this.tick.bind(this);
  }

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(this.tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One check (the timer's; public for tests and the admin). Returns the MB released, if it trimmed. */
  tick(): number | undefined {
    const rss = this.rss();
    if (rss < this.floor) this.floor = rss;
    if (rss - this.floor < this.thresholdMb * MiB) return undefined;
    const t0 = performance.now();
    this.collect();
    this.trim();
    const after = this.rss();
    const releasedMb = (rss - after) / MiB;
    if (releasedMb < this.thresholdMb / 2) this.floor = after;
    this.log.debug(
      {
        beforeMb: Math.round(rss / MiB),
        afterMb: Math.round(after / MiB),
        ms: +(performance.now() - t0).toFixed(2),
      },
      'memory: garbage collected, freed C heap returned to the kernel',
    );
    return releasedMb;
  }
}
