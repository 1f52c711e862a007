/**
 * L4 authorization of one connection to a workload, as Istio's ztunnel does it: any matching DENY
 * policy denies; else, with no ALLOW policy, allow; else allow only if an ALLOW policy matches.
 * Dry-run policies never change the outcome: they are evaluated on their own (the same algorithm over
 * the dry-run policies alone, as Envoy's shadow rules) and reported for the log.
 */
import type { SpiffeId } from '../../pki/spiffe.js';
import type { Policy, Workload } from '../state/types.js';
import { split, type CandidatePolicies } from './policies-for.js';
import { MatchContext, policyMatches } from './policy-match.js';

export interface AuthzConnection {
  /** The verified peer identity; undefined for plaintext (no mTLS). */
  srcIdentity?: SpiffeId;
  srcIp: string;
  dstIp: string;
  dstPort: number;
  dstWorkload: Workload;
}

export interface DryRunDecision {
  policy: string;
  action: 'allow' | 'deny';
  matched: boolean;
}

export type AuthzOutcome = 'denied-by-policy' | 'no-allow-policies' | 'allowed-by-policy' | 'no-allow-match';

export interface AuthzDecision {
  allowed: boolean;
  /** The deciding policy (`<ns>/<name>`) when one matched. */
  policy?: string;
  outcome: AuthzOutcome;
  /** For logs and the 401 body. */
  reason: string;
  dryRunDecisions: readonly DryRunDecision[];
  /** What the dry-run policies alone would decide; absent when there are none. */
  dryRunResult?: { allowed: boolean; policy?: string };
}

const NONE: readonly DryRunDecision[] = Object.freeze([]);

export function authorize(
  conn: AuthzConnection,
  policies: CandidatePolicies | readonly Policy[],
): AuthzDecision {
  const cand = isCandidates(policies) ? policies : split(policies);
  const ctx = new MatchContext(conn.srcIdentity, conn.srcIp, conn.dstIp, conn.dstPort);
  const decision = evaluate(cand.deny, cand.allow, ctx);
  if (cand.dryRun.length === 0) return decision;
  const dryRunDecisions: DryRunDecision[] = [];
  const dryDeny: Policy[] = [];
  const dryAllow: Policy[] = [];
  for (const p of cand.dryRun) {
    dryRunDecisions.push({ policy: p.key, action: p.action, matched: policyMatches(p, ctx) });
    (p.action === 'deny' ? dryDeny : dryAllow).push(p);
  }
  const shadow = evaluate(dryDeny, dryAllow, ctx);
  const dryRunResult = shadow.policy
    ? { allowed: shadow.allowed, policy: shadow.policy }
    : { allowed: shadow.allowed };
  return { ...decision, dryRunDecisions, dryRunResult };
}

function isCandidates(p: CandidatePolicies | readonly Policy[]): p is CandidatePolicies {
  return !Array.isArray(p);
}

function evaluate(deny: readonly Policy[], allow: readonly Policy[], ctx: MatchContext): AuthzDecision {
  for (const p of deny) {
    if (policyMatches(p, ctx)) {
      return {
        allowed: false,
        policy: p.key,
        outcome: 'denied-by-policy',
        reason: `denied by DENY policy ${p.key}`,
        dryRunDecisions: NONE,
      };
    }
  }
  if (allow.length === 0)
    return {
      allowed: true,
      outcome: 'no-allow-policies',
      reason: 'allowed: no ALLOW policy applies',
      dryRunDecisions: NONE,
    };
  for (const p of allow) {
    if (policyMatches(p, ctx)) {
      return {
        allowed: true,
        policy: p.key,
        outcome: 'allowed-by-policy',
        reason: `allowed by ALLOW policy ${p.key}`,
        dryRunDecisions: NONE,
      };
    }
  }
  return {
    allowed: false,
    outcome: 'no-allow-match',
    reason: `denied: none of the ${allow.length} ALLOW policies matched`,
    dryRunDecisions: NONE,
  };
}
