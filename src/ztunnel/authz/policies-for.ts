/**
 * The candidate policies of a destination workload, as ztunnel gathers them: the NAMESPACE-scoped
 * ones of its namespace, every GLOBAL one, and the selector-scoped ones it lists by key. A key it
 * lists that the store does not hold (yet) is skipped. Split by action and dry-run once, cached per
 * (store, workload object, policy generation) since it runs for every inbound connection.
 */
import type { StateStore } from '../state/store.js';
import type { Policy, Workload } from '../state/types.js';

export interface CandidatePolicies {
  /** Enforced DENY policies. */
  readonly deny: readonly Policy[];
  /** Enforced ALLOW policies. */
  readonly allow: readonly Policy[];
  /** Dry-run policies of either action: evaluated and reported, never enforced. */
  readonly dryRun: readonly Policy[];
  /** Keys the workload lists that the store does not hold. */
  readonly missing: readonly string[];
}

interface Entry {
  generation: number;
  value: CandidatePolicies;
}

const caches = new WeakMap<StateStore, WeakMap<Workload, Entry>>();

export function policiesFor(store: StateStore, workload: Workload): CandidatePolicies {
  let cache = caches.get(store);
  if (!cache) caches.set(store, (cache = new WeakMap()));
  const hit = cache.get(workload);
  if (hit && hit.generation === store.policyGeneration) return hit.value;
  const value = gather(store, workload);
  cache.set(workload, { generation: store.policyGeneration, value });
  return value;
}

function gather(store: StateStore, workload: Workload): CandidatePolicies {
  const seen = new Set<string>();
  const all: Policy[] = [];
  const missing: string[] = [];
  const add = (key: string, fromWorkload: boolean): void => {
    if (seen.has(key)) return;
    seen.add(key);
    const p = store.policies.get(key);
    if (p) all.push(p);
    else if (fromWorkload) missing.push(key);
  };
  for (const key of store.policies.namespaceKeys(workload.namespace)) add(key, false);
  for (const key of store.policies.globalKeys()) add(key, false);
  for (const key of workload.authorizationPolicies) add(key, true);
  return split(all, missing);
}

/** Splits a plain list of policies into the candidate form. */
export function split(policies: readonly Policy[], missing: readonly string[] = []): CandidatePolicies {
  const deny: Policy[] = [];
  const allow: Policy[] = [];
  const dryRun: Policy[] = [];
  for (const p of policies) {
    if (p.dryRun) dryRun.push(p);
    else if (p.action === 'deny') deny.push(p);
    else allow.push(p);
  }
  return { deny, allow, dryRun, missing };
}
