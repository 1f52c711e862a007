/** istio.security.Authorization (wire) → Policy (internal), with field-path validation. */
import type {
  Authorization,
  CidrAddress,
  Match,
  ServiceAccountMatch as WireSaMatch,
  StringMatch as WireStringMatch,
} from '../../xds/security-types.js';
import { checkPort, enumOf, result, type Converted } from './convert-common.js';
import { badAddressBytes, type Cidr } from './ip.js';
import type {
  Policy,
  PolicyAction,
  PolicyMatch,
  PolicyScope,
  ServiceAccountMatch,
  StringMatch,
} from './types.js';

const SCOPES: readonly PolicyScope[] = ['global', 'namespace', 'workload-selector'];
const ACTIONS: readonly PolicyAction[] = ['allow', 'deny'];

export function convertPolicy(a: Authorization): Converted<Policy> {
  const errors: string[] = [];
  const name = a.name ?? '';
  const namespace = a.namespace ?? '';
  if (!name) errors.push('authorization.name: empty');
  if (!namespace) errors.push('authorization.namespace: empty');
  const groups = (a.groups ?? []).map((g, gi) =>
    (g.rules ?? []).map((r, ri) =>
      (r.matches ?? []).map((m, mi) =>
        convertMatch(m, `authorization.groups[${gi}].rules[${ri}].matches[${mi}]`, errors),
      ),
    ),
  );
  const value: Policy = {
    key: `${namespace}/${name}`,
    name,
    namespace,
    scope: enumOf(a.scope, SCOPES, 'authorization.scope', errors),
    action: enumOf(a.action, ACTIONS, 'authorization.action', errors),
    groups,
    dryRun: a.dryRun ?? false,
  };
  return result(value, errors);
}

function convertMatch(m: Match, path: string, errors: string[]): PolicyMatch {
  const strings = (list: WireStringMatch[] | undefined, field: string): StringMatch[] =>
    (list ?? []).map((s, i) => stringMatch(s, `${path}.${field}[${i}]`, errors));
  const cidrs = (list: CidrAddress[] | undefined, field: string): Cidr[] =>
    (list ?? []).map((c, i) => cidr(c, `${path}.${field}[${i}]`, errors));
  const ports = (list: number[] | undefined, field: string): number[] =>
    (list ?? []).map((p, i) => checkPort(p, `${path}.${field}[${i}]`, errors, false));
  const sas = (list: WireSaMatch[] | undefined, field: string): ServiceAccountMatch[] =>
    (list ?? []).map((s, i) => {
      const namespace = s.namespace ?? '';
      const serviceAccount = s.serviceAccount ?? '';
      if (!namespace || !serviceAccount)
        errors.push(`${path}.${field}[${i}]: namespace and serviceAccount must both be set`);
      return { namespace, serviceAccount };
    });
  const out = {
    namespaces: strings(m.namespaces, 'namespaces'),
    notNamespaces: strings(m.notNamespaces, 'notNamespaces'),
    principals: strings(m.principals, 'principals'),
    notPrincipals: strings(m.notPrincipals, 'notPrincipals'),
    serviceAccounts: sas(m.serviceAccounts, 'serviceAccounts'),
    notServiceAccounts: sas(m.notServiceAccounts, 'notServiceAccounts'),
    sourceIps: cidrs(m.sourceIps, 'sourceIps'),
    notSourceIps: cidrs(m.notSourceIps, 'notSourceIps'),
    destinationIps: cidrs(m.destinationIps, 'destinationIps'),
    notDestinationIps: cidrs(m.notDestinationIps, 'notDestinationIps'),
    destinationPorts: ports(m.destinationPorts, 'destinationPorts'),
    notDestinationPorts: ports(m.notDestinationPorts, 'notDestinationPorts'),
  };
  const empty = Object.values(out).every((list) => list.length === 0);
  return { ...out, empty };
}

/**
 * Exactly one kind must be set. (ztunnel drops an empty StringMatch silently, which can turn a
 * `principals` list into "any"; rejecting the policy is the safer reading.)
 */
function stringMatch(s: WireStringMatch, path: string, errors: string[]): StringMatch {
  const set: StringMatch[] = [];
  if (s.exact !== undefined) set.push({ kind: 'exact', value: s.exact });
  if (s.prefix !== undefined) set.push({ kind: 'prefix', value: s.prefix });
  if (s.suffix !== undefined) set.push({ kind: 'suffix', value: s.suffix });
  if (s.presence !== undefined && s.presence !== null) set.push({ kind: 'presence' });
  if (set.length !== 1) {
    errors.push(`${path}: exactly one of exact, prefix, suffix, presence must be set (found ${set.length})`);
    return { kind: 'presence' };
  }
  return set[0] as StringMatch;
}

function cidr(c: CidrAddress, path: string, errors: string[]): Cidr {
  const bad = badAddressBytes(c.address);
  if (bad) {
    errors.push(`${path}.address: ${bad}`);
    return { bytes: new Uint8Array(4), length: 33 };
  }
  const bytes = Uint8Array.from(c.address as Uint8Array);
  const max = bytes.length * 8;
  // proto3: an absent length is 0, i.e. the whole address family (istiod always sets it).
  const length = c.length ?? 0;
  if (!Number.isInteger(length) || length < 0 || length > max) {
    errors.push(`${path}.length: ${String(c.length)} is not a prefix length for a ${max}-bit address`);
  }
  return { bytes, length };
}
