/**
 * Path normalization for authorization (Istio's default BASE: RFC 3986 dot segments removed and
 * percent-encoded unreserved characters decoded; `//` and `%2F` kept), so `/public/../admin` is judged
 * as `/admin`. Paths without `.` or `%` are returned as they are, without allocating.
 */
export function normalizePath(path: string): string {
  if (path.indexOf('.') < 0 && path.indexOf('%') < 0) return path;
  let p = path;
  if (p.indexOf('%') >= 0) {
    p = p.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
      const c = String.fromCharCode(parseInt(hex, 16));
      return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
    });
  }
  if (p.indexOf('.') < 0) return p;
  const out: string[] = [];
  const parts = p.split('/');
  for (let i = 0; i < parts.length; i++) {
    const s = parts[i]!;
    if (s === '.') {
      if (i === parts.length - 1) out.push('');
      continue;
    }
    if (s === '..') {
      if (out.length > 1) out.pop();
      if (i === parts.length - 1) out.push('');
      continue;
    }
    out.push(s);
  }
  const r = out.join('/');
  return r.startsWith('/') ? r : `/${r}`;
}
