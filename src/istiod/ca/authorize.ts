/**
 * Which identity a caller may get a certificate for: its own; or, for a trusted node account (ztunnel's),
 * an identity that has a pod on the caller's node. Pure: decisions are values.
 */
import { parseSpiffeUri, spiffeUri, type SpiffeId } from '../../pki/spiffe.js';
import { invalidArgument, permissionDenied, type CaRefusal } from './ca-denial.js';
import type { NodeIdentityLookup } from './node-identity-lookup.js';
import type { Caller } from './token-authenticator.js';

export interface AuthorizeContext {
  /** SPIFFE URIs of the node proxies' accounts allowed to impersonate (ztunnel's). */
  trustedNodeAccounts: ReadonlySet<string>;
  nodes: NodeIdentityLookup;
}

function sameId(a: SpiffeId, b: SpiffeId): boolean {
  return (
    a.trustDomain === b.trustDomain && a.namespace === b.namespace && a.serviceAccount === b.serviceAccount
  );
}

/** `impersonated` is the raw ImpersonatedIdentity value ('' or undefined when absent). */
export function authorizeIdentity(
  caller: Caller,
  impersonated: string | undefined,
  ctx: AuthorizeContext,
): { ok: true; id: SpiffeId; impersonating: boolean } | CaRefusal {
  if (!impersonated) return { ok: true, id: caller.identity, impersonating: false };
  const id = parseSpiffeUri(impersonated);
  if (!id) {
    return invalidArgument(
      'bad_impersonation',
      `ImpersonatedIdentity "${impersonated}" is not a SPIFFE id of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
    );
  }
  if (sameId(id, caller.identity)) return { ok: true, id, impersonating: false };
  const callerUri = spiffeUri(caller.identity);
  if (!ctx.trustedNodeAccounts.has(callerUri)) {
    return permissionDenied(
      'impersonation_not_allowed',
      `${callerUri} may only get a certificate for itself; it asked for ${impersonated} and is not a trusted node account`,
    );
  }
  if (!caller.node) {
    return permissionDenied(
      'impersonation_needs_node',
      `${callerUri} asked for ${impersonated} but its credential does not name a node; use a node-bound token`,
    );
  }
  if (!ctx.nodes.hasIdentityOnNode(id, caller.node)) {
    return permissionDenied(
      'not_on_node',
      `no pod with identity ${impersonated} runs on node "${caller.node}" (caller ${callerUri})`,
    );
  }
  return { ok: true, id, impersonating: true };
}
