/**
 * Authorization policies by key and by scope: GLOBAL ones, NAMESPACE ones per namespace.
 * WORKLOAD_SELECTOR ones are only found by key (workloads list the keys that apply to them).
 */
import type { Policy } from './types.js';

const NONE: ReadonlySet<string> = new Set();

export class PolicyIndex {
  private readonly byKey = new Map<string, Policy>();
  private readonly global = new Set<string>();
  private readonly byNamespace = new Map<string, Set<string>>();

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Policy | undefined {
    return this.byKey.get(key);
  }

  values(): IterableIterator<Policy> {
    return this.byKey.values();
  }

  globalKeys(): ReadonlySet<string> {
    return this.global;
  }

  namespaceKeys(namespace: string): ReadonlySet<string> {
    return this.byNamespace.get(namespace) ?? NONE;
  }

  /** Inserts or replaces (a replacement may change scope or namespace: the old entry is unindexed). */
  set(p: Policy): void {
    this.delete(p.key);
    this.byKey.set(p.key, p);
    if (p.scope === 'global') this.global.add(p.key);
    else if (p.scope === 'namespace') {
      let set = this.byNamespace.get(p.namespace);
      if (!set) this.byNamespace.set(p.namespace, (set = new Set()));
      set.add(p.key);
    }
  }

  delete(key: string): boolean {
    const old = this.byKey.get(key);
    if (!old) return false;
    this.byKey.delete(key);
    if (old.scope === 'global') this.global.delete(key);
    else if (old.scope === 'namespace') {
      const set = this.byNamespace.get(old.namespace);
      set?.delete(key);
      if (set?.size === 0) this.byNamespace.delete(old.namespace);
    }
    return true;
  }
}
