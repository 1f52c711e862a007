/** Durations as Istio and Gateway API write them (`1.5s`, `100ms`, `1h30m`) → milliseconds; undefined when malformed. */
const UNIT: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)) total += Number(m[1]) * UNIT[m[2]!]!;
  return Math.round(total);
}
