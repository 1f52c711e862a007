/** Pure request matching over compiled matches (no allocation beyond the lazily parsed query). */
import type { CompiledMatch, CompiledNamed, CompiledPath, CompiledString } from '../compile.js';

/** What matching reads from a request. */
export interface RequestView {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The raw query string without `?` ('' when none). */
  query: string;
  authority: string;
  /** `https` when the proxy terminated TLS for this request (an ingress gateway's HTTPS listener). */
  scheme?: string;
  /** Lower-case header name → value (repeated headers joined with ','). */
  header(name: string): string | undefined;
}

export function matchString(m: CompiledString, v: string | undefined): boolean {
  if (v === undefined) return false;
  switch (m.kind) {
    case 'present':
      return true;
    case 'exact':
      return (m.ignoreCase ? v.toLowerCase() : v) === m.value;
    case 'prefix':
      return (m.ignoreCase ? v.toLowerCase() : v).startsWith(m.value);
    case 'regex':
      return m.re!.test(v);
  }
}

export function matchPath(m: CompiledPath, path: string): boolean {
  const p = m.ignoreCase ? path.toLowerCase() : path;
  switch (m.kind) {
    case 'exact':
      return p === m.value;
    case 'prefix':
      return p.startsWith(m.value);
    case 'pathPrefix':
      if (m.value === '/') return true;
      return p === m.value || (p.startsWith(m.value) && p.charCodeAt(m.value.length) === 47); /* / */
    case 'regex':
      return m.re!.test(path);
  }
}

/** The first value of a query parameter (decoded), undefined when absent. */
export function queryParam(query: string, name: string): string | undefined {
  if (query === '') return undefined;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const eq = query.indexOf('=', start);
    const keyEnd = eq >= 0 && eq < end ? eq : end;
    if (decode(query.slice(start, keyEnd)) === name) {
      return keyEnd === end ? '' : decode(query.slice(keyEnd + 1, end));
    }
    start = end + 1;
  }
  return undefined;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function matchNamed(list: CompiledNamed[], get: (name: string) => string | undefined): boolean {
  for (const n of list) {
    // A missing header is an empty value for inverted matches (Istio `withoutHeaders`).
    const v = get(n.name);
    const ok = n.invert ? !matchString(n.match, v ?? '') : matchString(n.match, v);
    if (!ok) return false;
  }
  return true;
}

export function matchRequest(m: CompiledMatch, req: RequestView): boolean {
  if (m.method !== undefined && req.method !== m.method) return false;
  if (m.path && !matchPath(m.path, req.path)) return false;
  if (m.authority && !matchString(m.authority, req.authority)) return false;
  if (m.headers.length > 0 && !matchNamed(m.headers, (n) => req.header(n))) return false;
  if (m.query.length > 0 && !matchNamed(m.query, (n) => queryParam(req.query, n))) return false;
  return true;
}
