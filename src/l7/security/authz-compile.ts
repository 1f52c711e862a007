/**
 * Compiles a service's AuthorizationPolicies once per push into matchers: value patterns parsed
 * (`v`, `v*`, `*v`, `*`, path templates), CIDRs into block lists, `when` keys resolved to readers, and
 * rules indexed by exact path so a request with many rules looks at few (docs/l7-security.md).
 */
import net from 'node:net';
import type { AuthzAction, AuthzCondition, AuthzOperation, AuthzPolicy, AuthzSource } from './model.js';

/** Istio's value forms. `any`: `*`, a non-empty value. */
export interface ValueMatch {
  kind: 'exact' | 'prefix' | 'suffix' | 'any' | 'regex';
  value: string;
  re?: RegExp;
}

/** Where a condition reads its value(s) from. */
export type AttrKey =
  | { kind: 'header'; name: string }
  | { kind: 'claim'; path: string[] }
  | {
      kind:
        | 'source.ip'
        | 'remote.ip'
        | 'source.namespace'
        | 'source.principal'
        | 'source.serviceAccount'
        | 'source.trustDomain'
        | 'request.auth.principal'
        | 'request.auth.audiences'
        | 'request.auth.presenter'
        | 'destination.ip'
        | 'destination.port'
        | 'connection.sni';
    };

/** One field of a rule: values OR'ed; a `not` field holds when none of its values match. */
export interface FieldMatch {
  attr: AttrKey;
  values: ValueMatch[];
  /** For IP attributes: the CIDRs. */
  blocks: net.BlockList | undefined;
  negate: boolean;
}

export interface CompiledRule {
  /** All must hold: the from group (any of), the to group (any of), then every when. */
  from: FieldMatch[][];
  to: FieldMatch[][];
  when: FieldMatch[];
  index: number;
  /** Order among every rule of its action, for first-match reporting. */
  ordinal: number;
}

export interface CompiledPolicy {
  namespace: string;
  name: string;
  action: AuthzAction;
  dryRun: boolean;
  provider: string | undefined;
  rules: CompiledRule[];
}

export type RuleEntry = [CompiledPolicy, CompiledRule];

/**
 * The rules of one action, indexed: a rule that can only match requests from given exact principals
 * is filed under each of them; else one that can only match given source namespaces, under those;
 * else one bounded by exact paths, under those; the rest are looked at for every request.
 */
export interface ActionSet {
  policies: CompiledPolicy[];
  /** principal (without spiffe://) → rules (in ordinal order). */
  byPrincipal: Map<string, RuleEntry[]>;
  byNamespace: Map<string, RuleEntry[]>;
  /** path → rules that can only match that path (in ordinal order). */
  byPath: Map<string, RuleEntry[]>;
  /** Rules not indexed (in ordinal order). */
  other: RuleEntry[];
}

export interface CompiledAuthz {
  custom: ActionSet;
  deny: ActionSet;
  allow: ActionSet;
  audit: ActionSet;
  /** Enforced ALLOW policies exist: a request must match one of them. */
  hasAllow: boolean;
  /** Dry-run policies, evaluated for the log only. */
  shadow: CompiledAuthz | undefined;
  size: number;
}

export const WHEN_KEYS = [
  'source.ip',
  'remote.ip',
  'source.namespace',
  'source.principal',
  'source.serviceAccount',
  'source.trustDomain',
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
  'destination.ip',
  'destination.port',
  'connection.sni',
] as const;

/** The attribute a `when` key reads, or an error text for an unknown key. */
export function parseWhenKey(key: string): AttrKey | string {
  let m = /^request\.headers\[([^\]]+)\]$/.exec(key);
  if (m) return { kind: 'header', name: m[1]!.toLowerCase() };
  m = /^request\.auth\.claims((?:\[[^\]]+\])+)$/.exec(key);
  if (m) return { kind: 'claim', path: [...m[1]!.matchAll(/\[([^\]]+)\]/g)].map((x) => x[1]!) };
  if ((WHEN_KEYS as readonly string[]).includes(key)) return { kind: key as (typeof WHEN_KEYS)[number] };
  return (
    `unknown condition key ${JSON.stringify(key)}: use request.headers[NAME], request.auth.claims[NAME], ` +
    `or one of ${WHEN_KEYS.join(', ')}`
  );
}

export function valueMatch(v: string, ignoreCase = false): ValueMatch {
  const val = ignoreCase ? v.toLowerCase() : v;
  if (val === '*') return { kind: 'any', value: '' };
  if (val.startsWith('*')) return { kind: 'suffix', value: val.slice(1) };
  if (val.endsWith('*')) return { kind: 'prefix', value: val.slice(0, -1) };
  return { kind: 'exact', value: val };
}

/** Paths: the value forms, plus `{*}` (one segment) and `{**}` (any rest) templates. */
function pathMatch(v: string): ValueMatch {
  if (!v.includes('{*')) return valueMatch(v);
  const re = v
    .split(/(\{\*\*\}|\{\*\})/)
    .map((part) =>
      part === '{**}' ? '.*' : part === '{*}' ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('');
  return { kind: 'regex', value: v, re: new RegExp(`^${re}$`) };
}

function stripSpiffe(v: string): string {
  return v.startsWith('spiffe://') ? v.slice(9) : v;
}

function blockList(cidrs: string[]): net.BlockList {
  const b = new net.BlockList();
  for (const c of cidrs) {
    const slash = c.indexOf('/');
    const ip = (slash < 0 ? c : c.slice(0, slash)).trim();
    const family = net.isIPv6(ip) ? 'ipv6' : 'ipv4';
    if (!net.isIP(ip)) continue;
    const len = slash < 0 ? (family === 'ipv6' ? 128 : 32) : Number(c.slice(slash + 1));
    b.addSubnet(ip, len, family);
  }
  return b;
}

const IP_ATTRS = new Set(['source.ip', 'remote.ip', 'destination.ip']);

function field(
  attr: AttrKey,
  values: string[] | undefined,
  negate: boolean,
  conv = valueMatch,
): FieldMatch[] {
  if (!values || values.length === 0) return [];
  const ip = IP_ATTRS.has(attr.kind);
  return [
    {
      attr,
      values: ip ? [] : values.map((v) => conv(v)),
      blocks: ip ? blockList(values) : undefined,
      negate,
    },
  ];
}

const k = <K extends AttrKey['kind']>(kind: K): AttrKey => ({ kind }) as AttrKey;

function compileSource(s: AuthzSource, ns: string): FieldMatch[] {
  const sa = (v: string): ValueMatch => valueMatch(v.includes('/') ? v : `${ns}/${v}`);
  const principal = (v: string): ValueMatch => valueMatch(stripSpiffe(v));
  return [
    ...field(k('source.principal'), s.principals, false, principal),
    ...field(k('source.principal'), s.notPrincipals, true, principal),
    ...field(k('request.auth.principal'), s.requestPrincipals, false),
    ...field(k('request.auth.principal'), s.notRequestPrincipals, true),
    ...field(k('source.namespace'), s.namespaces, false),
    ...field(k('source.namespace'), s.notNamespaces, true),
    ...field(k('source.serviceAccount'), s.serviceAccounts, false, sa),
    ...field(k('source.serviceAccount'), s.notServiceAccounts, true, sa),
    ...field(k('source.ip'), s.ipBlocks, false),
    ...field(k('source.ip'), s.notIpBlocks, true),
    ...field(k('remote.ip'), s.remoteIpBlocks, false),
    ...field(k('remote.ip'), s.notRemoteIpBlocks, true),
  ];
}

const HOST: AttrKey = { kind: 'header', name: ':authority' };
const METHOD: AttrKey = { kind: 'header', name: ':method' };
const PATH: AttrKey = { kind: 'header', name: ':path' };

function compileOperation(o: AuthzOperation): FieldMatch[] {
  const host = (v: string): ValueMatch => valueMatch(v, true);
  return [
    ...field(HOST, o.hosts, false, host),
    ...field(HOST, o.notHosts, true, host),
    ...field(k('destination.port'), o.ports, false),
    ...field(k('destination.port'), o.notPorts, true),
    ...field(METHOD, o.methods, false),
    ...field(METHOD, o.notMethods, true),
    ...field(PATH, o.paths, false, pathMatch),
    ...field(PATH, o.notPaths, true, pathMatch),
  ];
}

function compileCondition(c: AuthzCondition): FieldMatch[] {
  const attr = parseWhenKey(c.key);
  if (typeof attr === 'string') throw new Error(attr);
  return [...field(attr, c.values, false), ...field(attr, c.notValues, true)];
}

/**
 * The exact values of `kind` a rule can only match (every group of `from` or `to` constrains it with
 * exact positive values), or undefined when the rule is not bounded that way.
 */
function exactValues(groups: FieldMatch[][], pick: (f: FieldMatch) => boolean): string[] | undefined {
  if (groups.length === 0) return undefined;
  const out: string[] = [];
  for (const group of groups) {
    const f = group.find((x) => pick(x) && !x.negate);
    if (!f || f.values.length === 0 || f.values.some((v) => v.kind !== 'exact')) return undefined;
    for (const v of f.values) out.push(v.value);
  }
  return out;
}

function file(index: Map<string, RuleEntry[]>, keys: string[], e: RuleEntry): void {
  for (const k of new Set(keys)) {
    let list = index.get(k);
    if (!list) index.set(k, (list = []));
    list.push(e);
  }
}

function actionSet(policies: CompiledPolicy[]): ActionSet {
  const set: ActionSet = {
    policies,
    byPrincipal: new Map(),
    byNamespace: new Map(),
    byPath: new Map(),
    other: [],
  };
  let ordinal = 0;
  for (const p of policies) {
    for (const r of p.rules) {
      r.ordinal = ordinal++;
      const e: RuleEntry = [p, r];
      const principals = exactValues(r.from, (f) => f.attr.kind === 'source.principal');
      if (principals) {
        file(set.byPrincipal, principals, e);
        continue;
      }
      const namespaces = exactValues(r.from, (f) => f.attr.kind === 'source.namespace');
      if (namespaces) {
        file(set.byNamespace, namespaces, e);
        continue;
      }
      const paths = exactValues(r.to, (f) => f.attr === PATH);
      if (paths) file(set.byPath, paths, e);
      else set.other.push(e);
    }
  }
  return set;
}

export function compilePolicy(p: AuthzPolicy): CompiledPolicy {
  return {
    namespace: p.namespace,
    name: p.name,
    action: p.action,
    dryRun: p.dryRun === true,
    provider: p.provider,
    rules: p.rules.map((r, index) => ({
      from: (r.from ?? []).map((f) => compileSource(f.source ?? {}, p.namespace)),
      to: (r.to ?? []).map((t) => compileOperation(t.operation ?? {})),
      when: (r.when ?? []).flatMap(compileCondition),
      index,
      ordinal: 0,
    })),
  };
}

function build(compiled: CompiledPolicy[], shadow: CompiledAuthz | undefined): CompiledAuthz {
  const of = (a: AuthzAction) => compiled.filter((p) => p.action === a);
  const allow = of('ALLOW');
  return {
    custom: actionSet(of('CUSTOM')),
    deny: actionSet(of('DENY')),
    allow: actionSet(allow),
    audit: actionSet(of('AUDIT')),
    hasAllow: allow.length > 0,
    shadow,
    size: compiled.reduce((n, p) => n + p.rules.length, 0),
  };
}

/** Compiles the policies of one service. Throws on an unknown `when` key (istiod rejects those first). */
export function compileAuthz(policies: readonly AuthzPolicy[]): CompiledAuthz {
  const all = policies.map(compilePolicy);
  const dry = all.filter((p) => p.dryRun);
  return build(
    all.filter((p) => !p.dryRun),
    dry.length > 0 ? build(dry, undefined) : undefined,
  );
}
