/**
 * Whether one policy matches one connection, with Istio's (ztunnel's) semantics:
 * groups OR'd; the rules of a group AND'd (a rule with no matches is true); the matches of a rule OR'd
 * (a match with no field set is skipped, never true); within a match every field AND'd, the values of a
 * field OR'd, and a `not*` field true when none of its values match. A policy with no groups matches
 * nothing. Principals are compared without `spiffe://`. A connection without a peer identity
 * (plaintext) matches no positive principal/namespace/service-account value, so every `not*` of those
 * fields matches it: `notPrincipals: [presence]` is how "no mTLS identity" is written.
 */
import type { SpiffeId } from '../../pki/spiffe.js';
import { cidrContains, parseIp, type Cidr } from '../state/ip.js';
import type { Policy, PolicyMatch, ServiceAccountMatch, StringMatch } from '../state/types.js';

/** The facts about one connection a policy may look at; built once per check. */
export class MatchContext {
  readonly id: SpiffeId | undefined;
  readonly dstPort: number;
  private principalText: string | undefined;
  private readonly srcIpText: string;
  private readonly dstIpText: string;
  private srcBytes: Uint8Array | undefined | null = null;
  private dstBytes: Uint8Array | undefined | null = null;

  constructor(id: SpiffeId | undefined, srcIp: string, dstIp: string, dstPort: number) {
    this.id = id;
    this.srcIpText = srcIp;
    this.dstIpText = dstIp;
    this.dstPort = dstPort;
  }

  /** `<td>/ns/<ns>/sa/<sa>` (built on first use), or undefined without an identity. */
  principal(): string | undefined {
    const id = this.id;
    if (!id) return undefined;
    if (this.principalText === undefined) {
      this.principalText = `${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
    }
    return this.principalText;
  }

  src(): Uint8Array | undefined {
    if (this.srcBytes === null) this.srcBytes = parseIp(this.srcIpText);
    return this.srcBytes;
  }

  dst(): Uint8Array | undefined {
    if (this.dstBytes === null) this.dstBytes = parseIp(this.dstIpText);
    return this.dstBytes;
  }
}

export function policyMatches(p: Policy, ctx: MatchContext): boolean {
  for (const group of p.groups) {
    let all = true;
    for (const rule of group) {
      if (rule.length > 0 && !anyMatch(rule, ctx)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

function anyMatch(rule: readonly PolicyMatch[], ctx: MatchContext): boolean {
  for (const m of rule) if (!m.empty && matchOne(m, ctx)) return true;
  return false;
}

function matchOne(m: PolicyMatch, ctx: MatchContext): boolean {
  return (
    ipField(m.destinationIps, m.notDestinationIps, ctx, false) &&
    ipField(m.sourceIps, m.notSourceIps, ctx, true) &&
    portField(m.destinationPorts, m.notDestinationPorts, ctx.dstPort) &&
    saField(m.serviceAccounts, m.notServiceAccounts, ctx.id) &&
    principalField(m.principals, m.notPrincipals, ctx) &&
    stringField(m.namespaces, m.notNamespaces, ctx.id?.namespace)
  );
}

function ipField(pos: readonly Cidr[], neg: readonly Cidr[], ctx: MatchContext, source: boolean): boolean {
  if (pos.length === 0 && neg.length === 0) return true;
  const ip = source ? ctx.src() : ctx.dst();
  if (ip === undefined) return pos.length === 0;
  return (pos.length === 0 || anyCidr(pos, ip)) && !anyCidr(neg, ip);
}

function anyCidr(list: readonly Cidr[], ip: Uint8Array): boolean {
  for (let i = 0; i < list.length; i++) if (cidrContains(list[i]!, ip)) return true;
  return false;
}

function portField(pos: readonly number[], neg: readonly number[], port: number): boolean {
  return (pos.length === 0 || pos.includes(port)) && !neg.includes(port);
}

function saField(
  pos: readonly ServiceAccountMatch[],
  neg: readonly ServiceAccountMatch[],
  id?: SpiffeId,
): boolean {
  if (pos.length === 0 && neg.length === 0) return true;
  if (id === undefined) return pos.length === 0;
  return (pos.length === 0 || anySa(pos, id)) && !anySa(neg, id);
}

function anySa(list: readonly ServiceAccountMatch[], id: SpiffeId): boolean {
  for (let i = 0; i < list.length; i++) {
    const s = list[i]!;
    if (id.namespace === s.namespace && id.serviceAccount === s.serviceAccount) return true;
  }
  return false;
}

function principalField(
  pos: readonly StringMatch[],
  neg: readonly StringMatch[],
  ctx: MatchContext,
): boolean {
  if (pos.length === 0 && neg.length === 0) return true;
  return stringField(pos, neg, ctx.principal());
}

/** `value` undefined = no identity: no value matches. */
function stringField(
  pos: readonly StringMatch[],
  neg: readonly StringMatch[],
  value: string | undefined,
): boolean {
  if (pos.length === 0 && neg.length === 0) return true;
  if (value === undefined) return pos.length === 0;
  return (pos.length === 0 || anyString(pos, value)) && !anyString(neg, value);
}

function anyString(list: readonly StringMatch[], value: string): boolean {
  for (let i = 0; i < list.length; i++) if (stringMatches(list[i]!, value)) return true;
  return false;
}

export function stringMatches(s: StringMatch, value: string): boolean {
  switch (s.kind) {
    case 'exact':
      return value === s.value;
    case 'prefix':
      return value.startsWith(s.value);
    case 'suffix':
      return value.endsWith(s.value);
    case 'presence':
      return value.length > 0;
  }
}
