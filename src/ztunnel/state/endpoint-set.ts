/**
 * The workloads backing one service, kept as a dense array so the per-connection load balancer can
 * walk it without allocating; a uid → index map makes add/replace/remove O(1) (swap-remove).
 */
import type { Workload } from './types.js';

export class EndpointSet {
  /** Live array: read it, never change it. Order is arbitrary. */
  readonly list: Workload[] = [];
  private readonly index = new Map<string, number>();

  get size(): number {
    return this.list.length;
  }

  /** Adds the workload or replaces the previous version of it (same uid). */
  set(w: Workload): void {
    const at = this.index.get(w.uid);
    if (at === undefined) {
      this.index.set(w.uid, this.list.length);
      this.list.push(w);
    } else this.list[at] = w;
  }

  delete(uid: string): boolean {
    const at = this.index.get(uid);
    if (at === undefined) return false;
    const last = this.list.pop() as Workload;
    this.index.delete(uid);
    if (at < this.list.length) {
      this.list[at] = last;
      this.index.set(last.uid, at);
    }
    return true;
  }

  has(uid: string): boolean {
    return this.index.has(uid);
  }
}
