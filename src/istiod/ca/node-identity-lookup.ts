/**
 * "Does a pod with identity X run on node N": the CA's question before letting a node proxy impersonate.
 * `NodeIdentities` is a counted map (node → identity → pods); `AmbientNodeIdentities` keeps one in step
 * with the ambient index from its change sets.
 */
import { spiffeUri, type SpiffeId } from '../../pki/spiffe.js';
import type { ChangeSet } from '../model/change-set.js';
import type { Address } from '../../xds/workload-types.js';

export interface NodeIdentityLookup {
  /** SPIFFE URIs of the identities with at least one pod on `node`. */
  identitiesOnNode(node: string): string[];
  hasIdentityOnNode(id: SpiffeId, node: string): boolean;
}

/** A counted map node → identity URI → number of workloads, keyed by a workload key for updates. */
export class NodeIdentities implements NodeIdentityLookup {
  private readonly byKey = new Map<string, { node: string; uri: string }>();
  private readonly byNode = new Map<string, Map<string, number>>();

  /** Records (or moves) workload `key` to `node` with identity `id`. */
  set(key: string, node: string, id: SpiffeId): void {
    const uri = spiffeUri(id);
    const old = this.byKey.get(key);
    if (old && old.node === node && old.uri === uri) return;
    if (old) this.unlink(old.node, old.uri);
    this.byKey.set(key, { node, uri });
    let ids = this.byNode.get(node);
    if (!ids) this.byNode.set(node, (ids = new Map()));
    ids.set(uri, (ids.get(uri) ?? 0) + 1);
  }

  delete(key: string): void {
    const old = this.byKey.get(key);
    if (!old) return;
    this.byKey.delete(key);
    this.unlink(old.node, old.uri);
  }

  identitiesOnNode(node: string): string[] {
    return [...(this.byNode.get(node)?.keys() ?? [])];
  }

  hasIdentityOnNode(id: SpiffeId, node: string): boolean {
    return (this.byNode.get(node)?.get(spiffeUri(id)) ?? 0) > 0;
  }

  get size(): number {
    return this.byKey.size;
  }

  private unlink(node: string, uri: string): void {
    const ids = this.byNode.get(node);
    if (!ids) return;
    const n = (ids.get(uri) ?? 0) - 1;
    if (n > 0) ids.set(uri, n);
    else ids.delete(uri);
    if (ids.size === 0) this.byNode.delete(node);
  }
}

/** What AmbientNodeIdentities needs of the ambient index. */
export interface AddressSource {
  snapshot(): { addresses: Map<string, Address> };
  onChange(cb: (changes: ChangeSet) => void): () => void;
}

/** NodeIdentities fed by the ambient index: workloads with a node, by their Address resource name. */
export class AmbientNodeIdentities implements NodeIdentityLookup {
  private readonly map = new NodeIdentities();
  private readonly unsubscribe: () => void;

  constructor(index: AddressSource) {
    for (const [name, addr] of index.snapshot().addresses) this.put(name, addr);
    this.unsubscribe = index.onChange((c) => {
      for (const name of c.addresses.removed) this.map.delete(name);
      for (const [name, addr] of c.addresses.upserted) this.put(name, addr);
    });
  }

  identitiesOnNode(node: string): string[] {
    return this.map.identitiesOnNode(node);
  }

  hasIdentityOnNode(id: SpiffeId, node: string): boolean {
    return this.map.hasIdentityOnNode(id, node);
  }

  close(): void {
    this.unsubscribe();
  }

  private put(name: string, addr: Address): void {
    const w = addr.workload;
    if (!w || !w.node) {
      this.map.delete(name);
      return;
    }
    this.map.set(name, w.node, {
      trustDomain: w.trustDomain || 'cluster.local',
      namespace: w.namespace ?? '',
      serviceAccount: w.serviceAccount || 'default',
    });
  }
}
