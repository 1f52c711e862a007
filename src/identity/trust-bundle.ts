/**
 * The roots a node proxy trusts. During a CA rotation it holds old and new roots together, so peers
 * with certificates from either are accepted; a root leaves when the published bundle drops it (or when
 * it expires).
 */
import { X509Certificate } from 'node:crypto';

function keyOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

export class TrustBundle {
  private readonly byKey = new Map<string, string>();
  private readonly listeners = new Set<(roots: readonly string[]) => void>();
  private cached: string[] = [];

  constructor(roots: readonly string[] = []) {
    for (const r of roots) this.byKey.set(keyOf(r), r);
    this.cached = [...this.byKey.values()];
  }

  roots(): readonly string[] {
    return this.cached;
  }

  has(pem: string): boolean {
    return this.byKey.has(keyOf(pem));
  }

  /** Adds a root (e.g. the last certificate of a chain the CA just returned). True if it was new. */
  add(pem: string): boolean {
    const k = keyOf(pem);
    if (this.byKey.has(k)) return false;
    this.byKey.set(k, pem);
    this.changed();
    return true;
  }

  /** Replaces the whole bundle (e.g. the published root file changed). Expired roots are dropped. */
  set(roots: readonly string[], now = new Date()): void {
    const next = new Map<string, string>();
    for (const r of roots) {
      const c = new X509Certificate(r);
      if (new Date(c.validTo) > now) next.set(c.fingerprint256, r);
    }
    const same = next.size === this.byKey.size && [...next.keys()].every((k) => this.byKey.has(k));
    if (same) return;
    this.byKey.clear();
    for (const [k, v] of next) this.byKey.set(k, v);
    this.changed();
  }

  onChange(cb: (roots: readonly string[]) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private changed(): void {
    this.cached = [...this.byKey.values()];
    for (const cb of this.listeners) cb(this.cached);
  }
}
