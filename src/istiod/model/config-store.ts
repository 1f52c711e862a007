import type {
  AuthorizationPolicyObj,
  GatewayObj,
  NamespaceObj,
  ObjectMeta,
  PeerAuthenticationObj,
  PodObj,
  ServiceEntryObj,
  ServiceObj,
} from './inputs.js';

/** Objects of one kind, by `namespace/name` and grouped per namespace for the fan-out lookups. */
export class NamespacedStore<T extends { metadata: ObjectMeta }> {
  private readonly byNs = new Map<string, Map<string, T>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(namespace: string, name: string): T | undefined {
    return this.byNs.get(namespace)?.get(name);
  }

  /** Stores the object; returns the one it replaced. */
  set(obj: T): T | undefined {
    const ns = obj.metadata.namespace ?? 'default';
    let bucket = this.byNs.get(ns);
    if (!bucket) {
      bucket = new Map();
      this.byNs.set(ns, bucket);
    }
    const old = bucket.get(obj.metadata.name);
    bucket.set(obj.metadata.name, obj);
    if (!old) this.count++;
    return old;
  }

  delete(namespace: string, name: string): T | undefined {
    const bucket = this.byNs.get(namespace);
    const old = bucket?.get(name);
    if (!bucket || !old) return undefined;
    bucket.delete(name);
    if (bucket.size === 0) this.byNs.delete(namespace);
    this.count--;
    return old;
  }

  inNamespace(namespace: string): Iterable<T> {
    return this.byNs.get(namespace)?.values() ?? [];
  }

  namespaces(): Iterable<string> {
    return this.byNs.keys();
  }

  *all(): Iterable<T> {
    for (const bucket of this.byNs.values()) yield* bucket.values();
  }
}

/** The current configuration the index reads. */
export class ConfigStore {
  readonly namespaces = new Map<string, NamespaceObj>();
  readonly pods = new NamespacedStore<PodObj>();
  readonly services = new NamespacedStore<ServiceObj>();
  readonly serviceEntries = new NamespacedStore<ServiceEntryObj>();
  readonly gateways = new NamespacedStore<GatewayObj>();
  readonly authorizationPolicies = new NamespacedStore<AuthorizationPolicyObj>();
  readonly peerAuthentications = new NamespacedStore<PeerAuthenticationObj>();

  namespaceLabels(namespace: string): Record<string, string> | undefined {
    return this.namespaces.get(namespace)?.metadata.labels;
  }
}
