/**
 * Which sources (pods, services, service entries) asked for which key (a waypoint `namespace/name`), so
 * that a change of the key re-computes exactly those sources. Keys that do not exist yet are tracked too:
 * a waypoint created later must reach the objects already labelled for it.
 */
export class DependencyMap {
  private readonly users = new Map<string, Set<string>>();
  private readonly keyOf = new Map<string, string>();

  usersOf(key: string): Iterable<string> {
    return this.users.get(key) ?? [];
  }

  /** Records that `source` now depends on `key` (or on nothing), replacing what it depended on before. */
  set(source: string, key: string | undefined): void {
    const old = this.keyOf.get(source);
    if (old === key) return;
    if (old !== undefined) {
      const set = this.users.get(old);
      set?.delete(source);
      if (set?.size === 0) this.users.delete(old);
    }
    if (key === undefined) {
      this.keyOf.delete(source);
      return;
    }
    this.keyOf.set(source, key);
    let set = this.users.get(key);
    if (!set) {
      set = new Set();
      this.users.set(key, set);
    }
    set.add(source);
  }
}
