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
  RuleEntry,
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

/** Values derived from the attributes once per request (not once per rule). */
interface Derived {
  principal: string | undefined;
  namespace: string | undefined;
  serviceAccount: string | undefined;
  trustDomain: string | undefined;
  authority: string;
}

const SPIFFE = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

/** Set at the start of each decide (decisions are synchronous, so one at a time). */
let derived: Derived = {
  principal: undefined,
  namespace: undefined,
  serviceAccount: undefined,
  trustDomain: undefined,
  authority: '',
};

function derive(a: AuthzAttributes): Derived {
  const uri = a.sourcePrincipal;
  const m = SPIFFE.exec(uri);
  const principal = uri ? stripSpiffe(uri) : undefined;
  return {
    principal,
    namespace: m?.[2],
    serviceAccount: m ? `${m[2]}/${m[3]}` : undefined,
    trustDomain: principal === undefined ? undefined : (m?.[1] ?? principal.split('/')[0]),
    authority: a.authority.toLowerCase(),
  };
}

export function decideAuthz(a: AuthzAttributes, c: CompiledAuthz | undefined): AuthzDecision {
  // An ALLOW policy with no rules still denies everything, so only "no rules and no ALLOW" is free.
  if (!c || (c.size === 0 && !c.hasAllow && !c.shadow)) return ALLOW_ALL;
  derived = derive(a);
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
  const d = derived;
  const lists: RuleEntry[][] = [];
  const add = (l: RuleEntry[] | undefined): void => {
    if (l && l.length > 0) lists.push(l);
  };
  if (set.byPrincipal.size > 0 && d.principal !== undefined) add(set.byPrincipal.get(d.principal));
  if (set.byNamespace.size > 0 && d.namespace !== undefined) add(set.byNamespace.get(d.namespace));
  if (set.byPath.size > 0) add(set.byPath.get(a.path));
  add(set.other);
  if (lists.length === 1) {
    for (const e of lists[0]!) if (ruleMatches(a, e[1]) && fn(e[0], e[1])) return;
    return;
  }
  // Several candidate lists: visit their rules in policy order (a k-way merge on the ordinal).
  const pos = lists.map(() => 0);
  for (;;) {
    let best = -1;
    for (let k = 0; k < lists.length; k++) {
      const e = lists[k]![pos[k]!];
      if (e && (best < 0 || e[1].ordinal < lists[best]![pos[best]!]![1].ordinal)) best = k;
    }
    if (best < 0) return;
    const e = lists[best]![pos[best]!++]!;
    if (ruleMatches(a, e[1]) && fn(e[0], e[1])) return;
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
          return derived.authority;
        case ':method':
          return a.method;
        case ':path':
          return a.path;
        default:
          return a.header(attr.name);
      }
    case 'source.principal':
      return derived.principal;
    case 'source.namespace':
      return derived.namespace;
    case 'source.serviceAccount':
      return derived.serviceAccount;
    case 'source.trustDomain':
      return derived.trustDomain;
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
