import type { Percentiles } from './protocol.js';

/** Nearest-rank percentile of an ascending array (q in 0..1). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** p50/p90/p99/max of a sample (sorted in place). */
export function percentiles(sample: Float64Array): Percentiles {
  sample.sort();
  return {
    p50: percentile(sample, 0.5),
    p90: percentile(sample, 0.9),
    p99: percentile(sample, 0.99),
    max: sample.length ? sample[sample.length - 1]! : NaN,
  };
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** A growable Float64Array: recording a sample allocates nothing until it doubles. */
export class Samples {
  private buf: Float64Array;
  length = 0;

  constructor(capacity = 4096) {
    this.buf = new Float64Array(capacity);
  }

  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }

  percentiles(): Percentiles {
    return percentiles(this.buf.subarray(0, this.length));
  }
}
