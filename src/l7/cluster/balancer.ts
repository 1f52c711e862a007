/**
 * Endpoint selection for a cluster: LEAST_REQUEST (Istio's default; two random choices, fewer active
 * requests wins), ROUND_ROBIN, RANDOM, or a consistent hash (rendezvous hashing on a header, cookie,
 * query parameter or the source IP). Active-request counts survive config pushes (keyed by ip:port).
 */
import type { Cluster, Endpoint } from '../model.js';

export class Balancer {
  private readonly active = new Map<string, number>();
  private readonly rr = new Map<string, number>();

  /** Picks an endpoint; `exclude` holds `ip:port` of hosts already tried (retries prefer others). */
  pick(
    cluster: Cluster,
    hashKey: string | undefined,
    random: () => number,
    exclude?: Set<string>,
  ): Endpoint | undefined {
    let eps = cluster.endpoints;
    if (eps.length === 0) return undefined;
    if (exclude && exclude.size > 0 && eps.length > 1) {
      const rest = eps.filter((e) => !exclude.has(key(e)));
      if (rest.length > 0) eps = rest;
    }
    if (eps.length === 1) return eps[0];
    const lb = cluster.lb;
    switch (lb.kind) {
      case 'HASH':
        return hashKey === undefined ? eps[Math.floor(random() * eps.length)] : rendezvous(eps, hashKey);
      case 'RANDOM':
        return eps[Math.floor(random() * eps.length)];
      case 'ROUND_ROBIN': {
        const n = this.rr.get(cluster.name) ?? 0;
        this.rr.set(cluster.name, n + 1);
        return eps[n % eps.length];
      }
      default: {
        const a = eps[Math.floor(random() * eps.length)]!;
        const b = eps[Math.floor(random() * eps.length)]!;
        return (this.active.get(key(a)) ?? 0) <= (this.active.get(key(b)) ?? 0) ? a : b;
      }
    }
  }

  begin(ep: Endpoint): void {
    const k = key(ep);
    this.active.set(k, (this.active.get(k) ?? 0) + 1);
  }

  end(ep: Endpoint): void {
    const k = key(ep);
    const n = (this.active.get(k) ?? 1) - 1;
    if (n <= 0) this.active.delete(k);
    else this.active.set(k, n);
  }
}

export function key(ep: Endpoint): string {
  return `${ep.ip}:${ep.port}`;
}

/** FNV-1a 32-bit. */
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Highest random weight: the same key goes to the same endpoint while it exists; few keys move on changes. */
function rendezvous(eps: readonly Endpoint[], hashKey: string): Endpoint {
  let best = eps[0]!;
  let bestScore = -1;
  for (const e of eps) {
    const s = fnv(`${hashKey}|${e.ip}:${e.port}`);
    if (s > bestScore) {
      bestScore = s;
      best = e;
    }
  }
  return best;
}
