/**
 * The authorization decision, pure: request attributes + a service's compiled policies → allow or
 * deny, and which policy and rule decided. Istio's order: CUSTOM, then any DENY match denies, then no
 * enforced ALLOW policy allows, an ALLOW match allows, else deny. AUDIT matches are reported, never
 * block. No sockets, no config parsing (authz-compile.ts did that once per push).
 */
import type {
  ActionSet,
  CompiledAuthz,
  CompiledPolicy,
  CompiledRule,
  FieldMatch,
  ValueMatch,
} from './authz-compile.js';

/** What a request is judged on. */
export interface AuthzAttributes {
  /** The direct peer's address (at a waypoint: the client pod). */
  sourceIp: string;
  /** The original client (X-Forwarded-For with trusted proxies); the peer at a waypoint. */
  remoteIp: string;
  /** SPIFFE URI of the peer ('' for plaintext). */
  sourcePrincipal: string;
  destinationIp: string;
  /** The service port. */
  destinationPort: number;
  method: string;
  /** The URL path without the query. */
  path: string;
  authority: string;
  sni?: string;
  header(name: string): string | undefined;
  /** Set when a JWT was verified. */
  auth?: RequestAuth;
}

export interface RequestAuth {
  /** `iss/sub`. */
  principal: string;
  audiences: string[];
  /** `azp`. */
  presenter: string;
  claims: Record<string, unknown>;
}

export interface RuleRef {
  namespace: string;
  name: string;
  rule: number;
}

export interface AuthzDecision {
  allow: boolean;
  /** The deciding policy: the DENY/CUSTOM match, the ALLOW match; undefined when nothing matched. */
  policy: RuleRef | undefined;
  /** Which action decided: CUSTOM, DENY, ALLOW, or NONE (no ALLOW matched, or no policy at all). */
  by: 'CUSTOM' | 'DENY' | 'ALLOW' | 'NONE';
  /** AUDIT rules that matched. */
  audits: RuleRef[];
  /** Dry-run policies' verdict, when there are any. */
  shadow?: AuthzDecision;
}

/** Envoy's response-code details for a denial. */
export function deniedDetails(d: AuthzDecision): string {
  const p = d.policy;
  return p
    ? `rbac_access_denied_matched_policy[ns[${p.namespace}]-policy[${p.name}]-rule[${p.rule}]]`
    : 'rbac_access_denied_matched_policy[none]';
}

const NO_AUDITS: RuleRef[] = [];
export const ALLOW_ALL: AuthzDecision = { allow: true, policy: undefined, by: 'NONE', audits: NO_AUDITS };

export function decideAuthz(a: AuthzAttributes, c: CompiledAuthz | undefined): AuthzDecision {
  // An ALLOW policy with no rules still denies everything, so only "no rules and no ALLOW" is free.
  if (!c || (c.size === 0 && !c.hasAllow && !c.shadow)) return ALLOW_ALL;
  const d = decideEnforced(a, c);
  if (c.shadow) d.shadow = decideEnforced(a, c.shadow);
  return d;
}

function decideEnforced(a: AuthzAttributes, c: CompiledAuthz): AuthzDecision {
  let audits = NO_AUDITS;
  if (c.audit.policies.length > 0) {
    audits = [];
    forEachMatch(a, c.audit, (p, r) => {
      audits.push(ref(p, r));
      return false;
    });
  }
  const custom = firstMatch(a, c.custom);
  if (custom) return { allow: false, policy: custom, by: 'CUSTOM', audits };
  const deny = firstMatch(a, c.deny);
  if (deny) return { allow: false, policy: deny, by: 'DENY', audits };
  if (!c.hasAllow) return { allow: true, policy: undefined, by: 'NONE', audits };
  const allow = firstMatch(a, c.allow);
  if (allow) return { allow: true, policy: allow, by: 'ALLOW', audits };
  return { allow: false, policy: undefined, by: 'NONE', audits };
}

function ref(p: CompiledPolicy, r: CompiledRule): RuleRef {
  return { namespace: p.namespace, name: p.name, rule: r.index };
}

function firstMatch(a: AuthzAttributes, set: ActionSet): RuleRef | undefined {
  let found: RuleRef | undefined;
  forEachMatch(a, set, (p, r) => {
    found = ref(p, r);
    return true;
  });
  return found;
}

/** Calls `fn` for matching rules in policy order until it returns true. */
function forEachMatch(
  a: AuthzAttributes,
  set: ActionSet,
  fn: (p: CompiledPolicy, r: CompiledRule) => boolean,
): void {
  if (set.policies.length === 0) return;
  const indexed = set.byPath.size > 0 ? set.byPath.get(a.path) : undefined;
  const other = set.other;
  let i = 0;
  let j = 0;
  const ni = indexed ? indexed.length : 0;
  while (i < ni || j < other.length) {
    let next: [CompiledPolicy, CompiledRule];
    if (j >= other.length || (i < ni && indexed![i]![1].ordinal < other[j]![1].ordinal))
      next = indexed![i++]!;
    else next = other[j++]!;
    if (ruleMatches(a, next[1]) && fn(next[0], next[1])) return;
  }
}

export function ruleMatches(a: AuthzAttributes, r: CompiledRule): boolean {
  if (r.from.length > 0 && !anyGroup(a, r.from)) return false;
  if (r.to.length > 0 && !anyGroup(a, r.to)) return false;
  for (const f of r.when) if (!fieldMatches(a, f)) return false;
  return true;
}

function anyGroup(a: AuthzAttributes, groups: FieldMatch[][]): boolean {
  for (const g of groups) {
    let ok = true;
    for (const f of g) {
      if (!fieldMatches(a, f)) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

function fieldMatches(a: AuthzAttributes, f: FieldMatch): boolean {
  const hit = f.blocks ? ipIn(f, ipOf(a, f.attr.kind)) : anyValue(f.values, read(a, f));
  return f.negate ? !hit : hit;
}

function ipOf(a: AuthzAttributes, kind: string): string {
  return kind === 'source.ip' ? a.sourceIp : kind === 'remote.ip' ? a.remoteIp : a.destinationIp;
}

function ipIn(f: FieldMatch, ip: string): boolean {
  if (!ip) return false;
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return f.blocks!.check(v4, v4.includes(':') ? 'ipv6' : 'ipv4');
}

/** The value(s) a field reads; undefined when absent. */
function read(a: AuthzAttributes, f: FieldMatch): string | string[] | undefined {
  const attr = f.attr;
  switch (attr.kind) {
    case 'header':
      switch (attr.name) {
        case ':authority':
          return a.authority.toLowerCase();
        case ':method':
          return a.method;
        case ':path':
          return a.path;
        default:
          return a.header(attr.name);
      }
    case 'source.principal':
      return a.sourcePrincipal ? stripSpiffe(a.sourcePrincipal) : undefined;
    case 'source.namespace':
      return spiffePart(a.sourcePrincipal, 'ns');
    case 'source.serviceAccount': {
      const ns = spiffePart(a.sourcePrincipal, 'ns');
      const sa = spiffePart(a.sourcePrincipal, 'sa');
      return ns !== undefined && sa !== undefined ? `${ns}/${sa}` : undefined;
    }
    case 'source.trustDomain': {
      const p = stripSpiffe(a.sourcePrincipal);
      return a.sourcePrincipal ? p.slice(0, p.indexOf('/') >>> 0) : undefined;
    }
    case 'destination.port':
      return String(a.destinationPort);
    case 'connection.sni':
      return a.sni;
    case 'request.auth.principal':
      return a.auth?.principal;
    case 'request.auth.audiences':
      return a.auth?.audiences;
    case 'request.auth.presenter':
      return a.auth?.presenter || undefined;
    case 'claim':
      return claim(a.auth?.claims, attr.path);
    default:
      return undefined;
  }
}

function claim(claims: Record<string, unknown> | undefined, path: string[]): string | string[] | undefined {
  let v: unknown = claims;
  for (const p of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.filter((x) => typeof x === 'string');
  return undefined;
}

function stripSpiffe(v: string): string {
  return v.startsWith('spiffe://') ? v.slice(9) : v;
}

/** `ns` or `sa` of a SPIFFE id `spiffe://td/ns/<ns>/sa/<sa>`. */
function spiffePart(uri: string, part: 'ns' | 'sa'): string | undefined {
  const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!m) return undefined;
  return part === 'ns' ? m[1] : m[2];
}

function anyValue(values: ValueMatch[], v: string | string[] | undefined): boolean {
  if (v === undefined) return false;
  if (typeof v === 'string') {
    for (const m of values) if (matchValue(m, v)) return true;
    return false;
  }
  for (const x of v) for (const m of values) if (matchValue(m, x)) return true;
  return false;
}

export function matchValue(m: ValueMatch, v: string): boolean {
  switch (m.kind) {
    case 'exact':
      return v === m.value;
    case 'prefix':
      return v.startsWith(m.value);
    case 'suffix':
      return v.endsWith(m.value);
    case 'any':
      return v !== '';
    case 'regex':
      return m.re!.test(v);
  }
}
