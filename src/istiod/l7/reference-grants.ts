/**
 * Gateway API ReferenceGrants: whether an object may refer to one in another namespace. A reference
 * within a namespace is always allowed; across namespaces only when a ReferenceGrant in the target's
 * namespace lists the referrer's group, kind and namespace under `from` and the target's group and
 * kind (and name, when it gives one) under `to`. Used for routes' backendRefs (HTTPRoute, GRPCRoute →
 * Service) and listeners' certificateRefs (Gateway → Secret). Pure.
 */
import type { ReferenceGrant } from '../config/types.js';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

/** The core group is written "" (or, by some, "core"). */
const groupOf = (g: string | undefined): string => (g === undefined || g === 'core' ? '' : g);

export interface Referrer {
  group: string;
  kind: string;
  namespace: string;
}

export interface Referent {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

export class ReferenceGrants {
  private readonly byNamespace = new Map<string, ReferenceGrant[]>();

  constructor(grants: Iterable<ReferenceGrant>) {
    for (const g of grants) {
      const ns = g.metadata.namespace ?? 'default';
      const list = this.byNamespace.get(ns) ?? [];
      list.push(g);
      this.byNamespace.set(ns, list);
    }
  }

  permits(from: Referrer, to: Referent): boolean {
    if (from.namespace === to.namespace) return true;
    return (this.byNamespace.get(to.namespace) ?? []).some(
      (g) =>
        g.spec.from.some(
          (f) =>
            groupOf(f.group) === groupOf(from.group) &&
            f.kind === from.kind &&
            f.namespace === from.namespace,
        ) &&
        g.spec.to.some(
          (t) =>
            groupOf(t.group) === groupOf(to.group) &&
            t.kind === to.kind &&
            (t.name === undefined || t.name === '' || t.name === to.name),
        ),
    );
  }
}
