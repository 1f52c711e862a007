/** Host name patterns as Gateway API and SNI use them. */

/** Whether `pattern` covers `host`: the same name, or `*.domain` covering exactly one more label. */
export function coversHost(pattern: string, host: string): boolean {
  const h = host.toLowerCase();
  const p = pattern.toLowerCase();
  if (p === h || p === '*') return true;
  return p.startsWith('*.') && h.endsWith(p.slice(1)) && !h.slice(0, h.length - p.length + 1).includes('.');
}
