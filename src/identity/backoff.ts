/** Retry delays: `initialMs` doubling per failed attempt, spread by ±`jitter`, never over `maxMs`. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Fraction of spread either way, 0..1; default 0.2 (±20 %). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 150_000, jitter: 0.2 };

/** Delay before retry number `attempt` (1 = after the first failure). `random` returns [0, 1). */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const exp = Math.min(Math.max(attempt, 1) - 1, 30);
  const base = Math.min(policy.initialMs * 2 ** exp, policy.maxMs);
  const spread = 1 + policy.jitter * (random() * 2 - 1);
  return Math.max(1, Math.min(Math.round(base * spread), policy.maxMs));
}
