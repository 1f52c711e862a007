/**
 * Status conditions as Kubernetes objects carry them (Gateway, HTTPRoute, ...): a condition keeps its
 * lastTransitionTime while its status stays the same, so rewriting an unchanged status is a no-op.
 */
export interface Condition {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** RFC 3339 to the second, as Kubernetes writes times. */
export function statusTime(d = new Date()): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The condition `type` now, with the transition time of `previous`'s one of that type if unchanged. */
export function condition(
  previous: ReadonlyArray<Record<string, unknown>>,
  type: string,
  ok: boolean,
  reason: string,
  message: string,
  now: string = statusTime(),
  generation?: number,
): Condition {
  const status = ok ? 'True' : 'False';
  const before = previous.find((c) => c.type === type);
  const c: Condition = {
    type,
    status,
    reason,
    message,
    lastTransitionTime:
      before?.status === status && typeof before.lastTransitionTime === 'string'
        ? before.lastTransitionTime
        : now,
  };
  if (generation !== undefined) c.observedGeneration = generation;
  return c;
}
