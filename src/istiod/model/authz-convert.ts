import type { AuthorizationPolicyObj, AuthzRule, Condition, Operation, Source } from './inputs.js';
import { cidrToMatch } from './ip.js';
import { hasSelector } from './labels.js';
import {
  AuthorizationAction,
  AuthorizationScope,
  type Authorization,
  type Group,
  type CidrAddress,
  type Match,
  type Rules,
  type ServiceAccountMatch,
  type StringMatch,
} from '../../xds/security-types.js';

/** The outcome of converting one AuthorizationPolicy: the resource for ztunnel, and/or why it differs. */
export interface AuthzConversion {
  /** Absent when ztunnel does not enforce the policy at all (skipped). */
  authorization?: Authorization;
  /** Set when the policy is skipped or enforced differently from what it says (HTTP parts). */
  warning?: string;
}

const L4_WHEN_KEYS = new Set([
  'source.ip',
  'source.namespace',
  'source.principal',
  'destination.ip',
  'destination.port',
]);
const HTTP_OPERATION_FIELDS = ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;
const HTTP_SOURCE_FIELDS = [
  'requestPrincipals',
  'notRequestPrincipals',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
] as const;

/** Whether ztunnel enforces the policy at all (ALLOW/DENY, not bound to a waypoint with targetRefs). */
export function enforcedByZtunnel(ap: AuthorizationPolicyObj): boolean {
  const spec = ap.spec ?? {};
  if ((spec.targetRefs && spec.targetRefs.length > 0) || spec.targetRef) return false;
  return spec.action === undefined || spec.action === 'ALLOW' || spec.action === 'DENY';
}

/**
 * Converts an AuthorizationPolicy to ztunnel's L4 form, with Istio's ambient semantics:
 * scope GLOBAL (root namespace, no selector) / NAMESPACE (no selector) / WORKLOAD_SELECTOR; ALLOW and DENY
 * only; a rule using HTTP attributes is dropped from an ALLOW policy (it can never match) and enforced
 * without its HTTP parts in a DENY policy (it denies more, never less). Policies bound with targetRefs are
 * for waypoints, not ztunnel.
 */
export function convertAuthorizationPolicy(
  ap: AuthorizationPolicyObj,
  rootNamespace: string,
): AuthzConversion {
  const spec = ap.spec ?? {};
  const namespace = ap.metadata.namespace ?? 'default';
  if ((spec.targetRefs && spec.targetRefs.length > 0) || spec.targetRef) {
    return { warning: 'bound with targetRefs: enforced by the waypoint it targets, not by ztunnel' };
  }
  const actionText = spec.action ?? 'ALLOW';
  let action: AuthorizationAction;
  if (actionText === 'ALLOW') action = AuthorizationAction.ALLOW;
  else if (actionText === 'DENY') action = AuthorizationAction.DENY;
  else return { warning: `action ${actionText} is not enforced by ztunnel; use a waypoint for it` };

  let scope: AuthorizationScope = AuthorizationScope.WORKLOAD_SELECTOR;
  if (!hasSelector(spec.selector?.matchLabels)) {
    scope = namespace === rootNamespace ? AuthorizationScope.GLOBAL : AuthorizationScope.NAMESPACE;
  }
  const groups: Group[] = [];
  const httpFound = new Set<string>();
  for (const rule of spec.rules ?? []) {
    const rules = convertRule(rule, action, namespace, httpFound);
    if (rules) groups.push({ rules });
  }
  const authorization: Authorization = { name: ap.metadata.name, namespace, scope, action, groups };
  if (httpFound.size === 0) return { authorization };
  const found = [...httpFound].sort().join(', ');
  const effect =
    action === AuthorizationAction.ALLOW
      ? 'rules using them are dropped, so they never allow anything'
      : 'the policy is enforced without them, so it denies more than written';
  return {
    authorization,
    warning: `ztunnel does not see HTTP attributes (found: ${found}); ${effect}. Use a waypoint for HTTP rules.`,
  };
}

/** One AuthorizationPolicy rule → the AND'ed Rules of one Group; undefined when the rule is dropped. */
function convertRule(
  rule: AuthzRule,
  action: number,
  namespace: string,
  httpFound: Set<string>,
): Rules[] | undefined {
  let http = false;
  const toMatches: Match[] = [];
  for (const to of rule.to ?? []) {
    const op: Operation = to.operation ?? {};
    for (const f of HTTP_OPERATION_FIELDS) {
      if (op[f]?.length) {
        http = true;
        httpFound.add(f);
      }
    }
    toMatches.push(compact({ destinationPorts: ports(op.ports), notDestinationPorts: ports(op.notPorts) }));
  }
  const fromMatches: Match[] = [];
  for (const from of rule.from ?? []) {
    const src: Source = from.source ?? {};
    for (const f of HTTP_SOURCE_FIELDS) {
      if (src[f]?.length) {
        http = true;
        httpFound.add(f);
      }
    }
    fromMatches.push(
      compact({
        principals: principals(src.principals),
        notPrincipals: principals(src.notPrincipals),
        namespaces: strings(src.namespaces),
        notNamespaces: strings(src.notNamespaces),
        sourceIps: ips(src.ipBlocks),
        notSourceIps: ips(src.notIpBlocks),
        serviceAccounts: serviceAccounts(src.serviceAccounts, namespace),
        notServiceAccounts: serviceAccounts(src.notServiceAccounts, namespace),
      }),
    );
  }
  const rules: Rules[] = [];
  if (toMatches.length > 0) rules.push({ matches: toMatches });
  if (fromMatches.length > 0) rules.push({ matches: fromMatches });
  for (const when of rule.when ?? []) {
    if (!L4_WHEN_KEYS.has(when.key)) {
      http = true;
      httpFound.add(when.key);
      continue; // in DENY the condition is treated as always true: nothing to add
    }
    rules.push({ matches: [whenMatch(when)] });
  }
  if (http && action === AuthorizationAction.ALLOW) return undefined;
  return rules;
}

function whenMatch(when: Condition): Match {
  const pos = when.values;
  const neg = when.notValues;
  switch (when.key) {
    case 'source.ip':
      return compact({ sourceIps: ips(pos), notSourceIps: ips(neg) });
    case 'destination.ip':
      return compact({ destinationIps: ips(pos), notDestinationIps: ips(neg) });
    case 'destination.port':
      return compact({ destinationPorts: ports(pos), notDestinationPorts: ports(neg) });
    case 'source.namespace':
      return compact({ namespaces: strings(pos), notNamespaces: strings(neg) });
    default: // source.principal
      return compact({ principals: principals(pos), notPrincipals: principals(neg) });
  }
}

/** Drops empty lists so the Match carries only the fields that constrain. */
function compact(m: Match): Match {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) if (Array.isArray(v) && v.length > 0) out[k] = v;
  return out as Match;
}

/** Istio's string patterns: `*` presence, `*x` suffix, `x*` prefix, else exact. */
export function stringMatch(v: string): StringMatch {
  if (v === '*') return { presence: {} };
  if (v.startsWith('*')) return { suffix: v.slice(1) };
  if (v.endsWith('*')) return { prefix: v.slice(0, -1) };
  return { exact: v };
}

function strings(values: string[] | undefined): StringMatch[] | undefined {
  return values?.map(stringMatch);
}

function principals(values: string[] | undefined): StringMatch[] | undefined {
  return values?.map((v) => stringMatch(v.startsWith('spiffe://') ? v.slice('spiffe://'.length) : v));
}

function ports(values: string[] | undefined): number[] | undefined {
  if (!values) return undefined;
  const out: number[] = [];
  for (const v of values) {
    if (!/^\d{1,5}$/.test(v)) continue;
    const n = Number(v);
    if (n <= 65535) out.push(n);
  }
  return out;
}

function ips(values: string[] | undefined): CidrAddress[] | undefined {
  if (!values) return undefined;
  const out: CidrAddress[] = [];
  for (const v of values) {
    const m = cidrToMatch(v);
    if (m) out.push(m);
  }
  return out;
}

function serviceAccounts(values: string[] | undefined, namespace: string): ServiceAccountMatch[] | undefined {
  return values?.map((v) => {
    const slash = v.indexOf('/');
    return slash >= 0
      ? { namespace: v.slice(0, slash), serviceAccount: v.slice(slash + 1) }
      : { namespace, serviceAccount: v };
  });
}
