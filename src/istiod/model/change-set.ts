import { deepEqual } from './deep-equal.js';
import type { Authorization } from '../../xds/security-types.js';
import type { Address } from '../../xds/workload-types.js';

/** What changed for one xDS type: resources to (re)send by name, and names to remove. */
export interface ResourceDelta<T> {
  upserted: Map<string, T>;
  removed: Set<string>;
}

/** The result of one change to the index: changed `Address` and `Authorization` resources. */
export interface ChangeSet {
  addresses: ResourceDelta<Address>;
  authorizations: ResourceDelta<Authorization>;
}

export function isEmptyChangeSet(c: ChangeSet): boolean {
  return (
    c.addresses.upserted.size +
      c.addresses.removed.size +
      c.authorizations.upserted.size +
      c.authorizations.removed.size ===
    0
  );
}

/** Applies computed values to an output map and records only real differences. */
export class ChangeTracker {
  private readonly changes: ChangeSet = ChangeTracker.empty();

  static empty(): ChangeSet {
    return {
      addresses: { upserted: new Map(), removed: new Set() },
      authorizations: { upserted: new Map(), removed: new Set() },
    };
  }

  /** Sets (value) or deletes (undefined) `name` in `store`, noting the change under `type`. */
  put<K extends keyof ChangeSet>(
    store: Map<string, ChangeSet[K] extends ResourceDelta<infer T> ? T : never>,
    type: K,
    name: string,
    value: (ChangeSet[K] extends ResourceDelta<infer T> ? T : never) | undefined,
  ): void {
    const delta = this.changes[type] as ResourceDelta<unknown>;
    const old = store.get(name);
    if (value === undefined) {
      if (old === undefined) return;
      store.delete(name);
      delta.upserted.delete(name);
      delta.removed.add(name);
      return;
    }
    if (old !== undefined && deepEqual(old, value)) return;
    store.set(name, value);
    delta.removed.delete(name);
    delta.upserted.set(name, value);
  }

  result(): ChangeSet {
    return this.changes;
  }
}
