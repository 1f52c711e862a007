/**
 * Which pods (and so which SPIFFE identities) run on which node, kept from the index's change sets.
 * The CA asks this before signing a certificate a node proxy requests for another identity
 * (Istio's `ImpersonatedIdentity`): allowed only when a pod with that identity runs on the caller's node.
 */
import type { ChangeSet } from '../model/ambient-index.js';
import type { Workload } from '../../xds/workload-types.js';

/** One pod as the CA sees it. */
export interface PodOnNode {
  /** The Workload uid, `<cluster>//Pod/<namespace>/<name>`. */
  uid: string;
  namespace: string;
  name: string;
  serviceAccount: string;
  /** `spiffe://<trust domain>/ns/<namespace>/sa/<service account>`. */
  spiffeId: string;
}

/** Istio's identity of a workload: empty trust domain means cluster.local, empty account `default`. */
export function spiffeIdOf(w: Workload): string {
  const td = w.trustDomain || 'cluster.local';
  return `spiffe://${td}/ns/${w.namespace ?? ''}/sa/${w.serviceAccount || 'default'}`;
}

/**
 * Also the CA's `NodeIdentityLookup` (src/istiod/ca/node-identity-lookup.ts): identities on a node,
 * and whether a given identity has a pod there.
 */
export class NodeIdentities {
  private readonly byNode = new Map<string, Map<string, PodOnNode>>();
  private readonly nodeOf = new Map<string, string>();

  /** Follows one change set of the index. */
  apply(changes: ChangeSet): void {
    for (const name of changes.addresses.removed) this.drop(name);
    for (const [name, address] of changes.addresses.upserted) {
      const w = address.workload;
      if (!w || !name.includes('//Pod/') || !w.node) {
        this.drop(name);
        continue;
      }
      if (this.nodeOf.get(name) !== w.node) this.drop(name);
      let pods = this.byNode.get(w.node);
      if (!pods) this.byNode.set(w.node, (pods = new Map()));
      pods.set(name, {
        uid: name,
        namespace: w.namespace ?? '',
        name: w.name ?? '',
        serviceAccount: w.serviceAccount || 'default',
        spiffeId: spiffeIdOf(w),
      });
      this.nodeOf.set(name, w.node);
    }
  }

  /** The pods the index places on `node` (its `spec.nodeName`), sorted by uid. */
  podsOnNode(node: string): PodOnNode[] {
    const pods = this.byNode.get(node);
    return pods ? [...pods.values()].sort((a, b) => (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0)) : [];
  }

  /** Whether some pod with this SPIFFE id (`spiffe://td/ns/N/sa/S`) runs on `node`. */
  identitiesOnNode(node: string): string[] {
    return [...new Set(this.podsOnNode(node).map((p) => p.spiffeId))];
  }

  hasIdentityOnNode(
    id: { trustDomain: string; namespace: string; serviceAccount: string },
    node: string,
  ): boolean {
    return this.identityOnNode(`spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`, node);
  }

  identityOnNode(spiffeId: string, node: string): boolean {
    const pods = this.byNode.get(node);
    if (!pods) return false;
    for (const p of pods.values()) if (p.spiffeId === spiffeId) return true;
    return false;
  }

  private drop(name: string): void {
    const node = this.nodeOf.get(name);
    if (node === undefined) return;
    this.nodeOf.delete(name);
    const pods = this.byNode.get(node);
    pods?.delete(name);
    if (pods?.size === 0) this.byNode.delete(node);
  }
}
