import type { MtlsMode, PeerAuthenticationObj } from './inputs.js';
import { hasSelector, selects } from './labels.js';
import {
  AuthorizationAction,
  AuthorizationScope,
  type Authorization,
  type Match,
} from '../../xds/security-types.js';

/** Istio's names for the synthesized policies ('_' cannot appear in Kubernetes names, so no clash). */
export const STATIC_STRICT_NAME = 'istio_converted_static_strict';
export const CONVERTED_PREFIX = 'converted_peer_authentication_';

const NO_IDENTITY: Match = { notPrincipals: [{ presence: {} }] };

export function mtlsMode(raw: string | undefined): MtlsMode {
  return raw === 'STRICT' || raw === 'PERMISSIVE' || raw === 'DISABLE' ? raw : 'UNSET';
}

/** The DENY-without-identity policy every STRICT workload references (one per mesh, in the root namespace). */
export function staticStrictPolicy(rootNamespace: string): Authorization {
  return {
    name: STATIC_STRICT_NAME,
    namespace: rootNamespace,
    scope: AuthorizationScope.WORKLOAD_SELECTOR,
    action: AuthorizationAction.DENY,
    groups: [{ rules: [{ matches: [NO_IDENTITY] }] }],
  };
}

/** The PeerAuthentications that decide one workload's mode: mesh-wide, namespace-wide, workload. */
export interface PeerAuthnChain {
  mesh?: PeerAuthenticationObj;
  namespace?: PeerAuthenticationObj;
  workload?: PeerAuthenticationObj;
}

function older(a: PeerAuthenticationObj | undefined, b: PeerAuthenticationObj): boolean {
  if (!a) return true;
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (tb !== ta) return tb < ta;
  return b.metadata.name < a.metadata.name;
}

/**
 * Picks the effective chain for a workload (labels `podLabels`, or none for the namespace level alone)
 * among the root namespace's and its own namespace's policies; on conflicts the oldest wins, as in Istio.
 */
export function pickChain(
  rootNamespace: string,
  rootPolicies: Iterable<PeerAuthenticationObj>,
  nsPolicies: Iterable<PeerAuthenticationObj>,
  podLabels: Record<string, string> | undefined,
): PeerAuthnChain {
  const chain: PeerAuthnChain = {};
  for (const pa of rootPolicies) {
    if (!hasSelector(pa.spec?.selector?.matchLabels) && older(chain.mesh, pa)) chain.mesh = pa;
  }
  for (const pa of nsPolicies) {
    if (pa.metadata.namespace === rootNamespace) continue;
    const sel = pa.spec?.selector?.matchLabels;
    if (!hasSelector(sel)) {
      if (older(chain.namespace, pa)) chain.namespace = pa;
    } else if (podLabels && selects(sel, podLabels) && older(chain.workload, pa)) chain.workload = pa;
  }
  return chain;
}

/** Whether the mesh/namespace levels together say STRICT (the namespace level wins unless UNSET). */
function inheritedStrict(chain: PeerAuthnChain): boolean {
  const ns = mtlsMode(chain.namespace?.spec?.mtls?.mode);
  if (ns !== 'UNSET') return ns === 'STRICT';
  return mtlsMode(chain.mesh?.spec?.mtls?.mode) === 'STRICT';
}

/**
 * The converted form of a workload-selector PeerAuthentication with port-level modes, or undefined when
 * it needs none (not a selector policy, no port-level modes, or all ports agree with the effective mode).
 * Effective STRICT with PERMISSIVE/DISABLE ports: deny without identity unless the port is one of those.
 * Effective PERMISSIVE with STRICT ports: deny without identity on those ports only.
 */
export function convertPeerAuthentication(
  rootNamespace: string,
  pa: PeerAuthenticationObj,
  parents: PeerAuthnChain,
): Authorization | undefined {
  const namespace = pa.metadata.namespace ?? 'default';
  const portLevel = pa.spec?.portLevelMtls ?? {};
  if (namespace === rootNamespace || !hasSelector(pa.spec?.selector?.matchLabels)) return undefined;
  const mode = mtlsMode(pa.spec?.mtls?.mode);
  const strict = mode === 'STRICT' || (mode === 'UNSET' && inheritedStrict(parents));
  const strictPorts: number[] = [];
  const lenientPorts: number[] = [];
  for (const [portText, m] of Object.entries(portLevel)) {
    const port = Number(portText);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
    const pm = mtlsMode(m?.mode);
    if (pm === 'STRICT') strictPorts.push(port);
    else if (pm === 'PERMISSIVE' || pm === 'DISABLE') lenientPorts.push(port);
  }
  strictPorts.sort((a, b) => a - b);
  lenientPorts.sort((a, b) => a - b);
  let match: Match;
  if (strict) {
    if (lenientPorts.length === 0) return undefined; // plain STRICT: the static policy covers it
    match = { ...NO_IDENTITY, notDestinationPorts: lenientPorts };
  } else {
    if (strictPorts.length === 0) return undefined;
    match = { ...NO_IDENTITY, destinationPorts: strictPorts };
  }
  return {
    name: CONVERTED_PREFIX + pa.metadata.name,
    namespace,
    scope: AuthorizationScope.WORKLOAD_SELECTOR,
    action: AuthorizationAction.DENY,
    groups: [{ rules: [{ matches: [match] }] }],
  };
}

/** The xDS names of the PeerAuthentication-derived policies one workload must reference. */
export function peerAuthnPolicyNames(rootNamespace: string, chain: PeerAuthnChain): string[] {
  const w = chain.workload;
  if (w) {
    const converted = convertPeerAuthentication(rootNamespace, w, chain);
    if (converted) return [`${converted.namespace}/${converted.name}`];
    const mode = mtlsMode(w.spec?.mtls?.mode);
    const strict = mode === 'STRICT' || (mode === 'UNSET' && inheritedStrict(chain));
    return strict ? [`${rootNamespace}/${STATIC_STRICT_NAME}`] : [];
  }
  return inheritedStrict(chain) ? [`${rootNamespace}/${STATIC_STRICT_NAME}`] : [];
}
