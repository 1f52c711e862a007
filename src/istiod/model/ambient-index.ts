import { MeshError } from '../../common/errors.js';
import { ConfigStore } from './config-store.js';
import { DependencyMap } from './dependency-map.js';
import { ChangeTracker, isEmptyChangeSet, type ChangeSet } from './change-set.js';
import { enforcedByZtunnel } from './authz-convert.js';
import type { AuthorizationPolicyObj, ConfigKind, ConfigObject } from './inputs.js';
import { hasSelector, L, selects } from './labels.js';
import { STATIC_STRICT_NAME } from './peer-authn.js';
import { ResourceComputer, type Computed } from './resource-computer.js';
import type { Authorization } from '../../xds/security-types.js';
import type { Address } from '../../xds/workload-types.js';

export type { ChangeSet, ResourceDelta } from './change-set.js';

export interface AmbientIndexOptions {
  /** Cluster id in Workload uids and `clusterId`; default `Kubernetes`. */
  clusterId?: string;
  /** Network of all addresses; default empty (one flat network). */
  network?: string;
  /** SPIFFE trust domain; default `cluster.local`. */
  trustDomain?: string;
  /** DNS suffix of Service hostnames; default `cluster.local`. */
  domainSuffix?: string;
  /** Istio's root namespace (mesh-wide policies); default `istio-system`. */
  rootNamespace?: string;
}

/** A policy ztunnel will not enforce as written (skipped, or HTTP parts dropped). */
export interface IndexWarning {
  kind: 'AuthorizationPolicy';
  namespace: string;
  name: string;
  message: string;
}

export type ConfigEvent =
  | { type: 'upsert'; object: ConfigObject }
  | { type: 'remove'; kind: ConfigKind; namespace: string; name: string };

type SourceKind = 'Pod' | 'Service' | 'ServiceEntry';
type Listener = (changes: ChangeSet) => void;

/**
 * The ambient index: keeps the configuration, and turns each change into the set of xDS resources
 * (`istio.workload.Address` by name, `istio.security.Authorization` by name) that changed. Each event
 * marks the objects whose outputs may depend on it (a namespace → its pods and services; a Service →
 * the pods it selects; a policy → itself and the pods it selects; a waypoint → whoever asked for it);
 * only those are recomputed, once per flush, and only real differences are reported.
 */
export class AmbientIndex {
  private readonly store = new ConfigStore();
  private readonly computer: ResourceComputer;
  private readonly root: string;
  private readonly addresses = new Map<string, Address>();
  private readonly authorizations = new Map<string, Authorization>();
  private readonly outputsBySource = new Map<string, string[]>();
  private readonly waypointDeps = new DependencyMap();
  private readonly policyWarnings = new Map<string, IndexWarning>();
  private readonly dirty = { sources: new Set<string>(), aps: new Set<string>(), pas: new Set<string>() };
  private readonly listeners = new Set<Listener>();
  private batchDepth = 0;

  constructor(opts: AmbientIndexOptions = {}) {
    this.root = opts.rootNamespace ?? 'istio-system';
    this.computer = new ResourceComputer(
      this.store,
      {
        clusterId: opts.clusterId ?? 'Kubernetes',
        network: opts.network ?? '',
        trustDomain: opts.trustDomain ?? 'cluster.local',
        domainSuffix: opts.domainSuffix ?? 'cluster.local',
      },
      this.root,
    );
  }

  /** Adds or replaces an object; returns what changed (also given to `onChange` listeners). */
  upsert(obj: ConfigObject): ChangeSet {
    return this.batch(() => this.markUpsert(obj));
  }

  /** Removes an object (for a Namespace, `namespace` is ignored); returns what changed. */
  remove(kind: ConfigKind, namespace: string, name: string): ChangeSet {
    return this.batch(() => this.markRemove(kind, namespace, name));
  }

  apply(events: Iterable<ConfigEvent>): ChangeSet {
    return this.batch(() => {
      for (const e of events) {
        if (e.type === 'upsert') this.markUpsert(e.object);
        else this.markRemove(e.kind, e.namespace, e.name);
      }
    });
  }

  /** Runs `fn` (which may call upsert/remove) and computes the affected resources once at the end. */
  batch(fn: () => void): ChangeSet {
    this.batchDepth++;
    try {
      fn();
    } finally {
      this.batchDepth--;
    }
    if (this.batchDepth > 0) return ChangeTracker.empty();
    const changes = this.flush();
    if (!isEmptyChangeSet(changes)) for (const l of this.listeners) l(changes);
    return changes;
  }

  /** Calls `cb` with every non-empty change set; returns the unsubscribe function. */
  onChange(cb: Listener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  snapshot(): { addresses: Map<string, Address>; authorizations: Map<string, Authorization> } {
    return { addresses: new Map(this.addresses), authorizations: new Map(this.authorizations) };
  }

  getAddress(name: string): Address | undefined {
    return this.addresses.get(name);
  }

  getAuthorization(name: string): Authorization | undefined {
    return this.authorizations.get(name);
  }

  /** Policies ztunnel skips or enforces differently from what they say, with the reason. */
  warnings(): IndexWarning[] {
    return [...this.policyWarnings.values()];
  }

  private markUpsert(obj: ConfigObject): void {
    const ns = obj.metadata.namespace ?? 'default';
    const name = obj.metadata.name;
    if (typeof name !== 'string' || name === '') {
      throw new MeshError('CFG_ERR_INVALID', `ambient index: a ${obj.kind} without metadata.name was given`);
    }
    switch (obj.kind) {
      case 'Namespace':
        this.store.namespaces.set(name, obj);
        return this.markNamespace(name);
      case 'Pod':
        this.store.pods.set(obj);
        return void this.dirty.sources.add(`Pod/${ns}/${name}`);
      case 'Service': {
        const old = this.store.services.set(obj);
        return this.markService(ns, name, old?.spec?.selector, obj.spec?.selector);
      }
      case 'ServiceEntry': {
        const old = this.store.serviceEntries.set(obj);
        this.markSelected(ns, old?.spec.workloadSelector?.labels, obj.spec.workloadSelector?.labels);
        return void this.dirty.sources.add(`ServiceEntry/${ns}/${name}`);
      }
      case 'Gateway':
        this.store.gateways.set(obj);
        return this.markGateway(ns, name);
      case 'AuthorizationPolicy': {
        const old = this.store.authorizationPolicies.set(obj);
        return this.markAuthz(ns, name, old, obj);
      }
      case 'PeerAuthentication':
        this.store.peerAuthentications.set(obj);
        return this.markPeerAuthn(ns, name);
      default:
        throw new MeshError(
          'CFG_ERR_UNKNOWN_KIND',
          `ambient index: unsupported kind ${(obj as { kind: string }).kind}`,
        );
    }
  }

  private markRemove(kind: ConfigKind, ns: string, name: string): void {
    switch (kind) {
      case 'Namespace':
        this.store.namespaces.delete(name);
        return this.markNamespace(name);
      case 'Pod':
        this.store.pods.delete(ns, name);
        return void this.dirty.sources.add(`Pod/${ns}/${name}`);
      case 'Service': {
        const old = this.store.services.delete(ns, name);
        return this.markService(ns, name, old?.spec?.selector, undefined);
      }
      case 'ServiceEntry': {
        const old = this.store.serviceEntries.delete(ns, name);
        this.markSelected(ns, old?.spec.workloadSelector?.labels, undefined);
        return void this.dirty.sources.add(`ServiceEntry/${ns}/${name}`);
      }
      case 'Gateway':
        this.store.gateways.delete(ns, name);
        return this.markGateway(ns, name);
      case 'AuthorizationPolicy': {
        const old = this.store.authorizationPolicies.delete(ns, name);
        return this.markAuthz(ns, name, old, undefined);
      }
      case 'PeerAuthentication':
        this.store.peerAuthentications.delete(ns, name);
        return this.markPeerAuthn(ns, name);
      default:
        throw new MeshError('CFG_ERR_UNKNOWN_KIND', `ambient index: unsupported kind ${String(kind)}`);
    }
  }

  /** Namespace labels decide enrollment and namespace-level waypoints of everything in it. */
  private markNamespace(ns: string): void {
    for (const p of this.store.pods.inNamespace(ns)) this.dirty.sources.add(`Pod/${ns}/${p.metadata.name}`);
    for (const s of this.store.services.inNamespace(ns))
      this.dirty.sources.add(`Service/${ns}/${s.metadata.name}`);
    for (const s of this.store.serviceEntries.inNamespace(ns)) {
      this.dirty.sources.add(`ServiceEntry/${ns}/${s.metadata.name}`);
    }
  }

  private markService(
    ns: string,
    name: string,
    oldSel?: Record<string, string>,
    newSel?: Record<string, string>,
  ): void {
    this.dirty.sources.add(`Service/${ns}/${name}`);
    this.markSelected(ns, oldSel, newSel);
    this.markWaypointUsers(`${ns}/${name}`); // it may be a waypoint's own Service (its address)
  }

  /** A Gateway changes its users, its pods (native HBONE, no waypoint) and its own Service. */
  private markGateway(ns: string, name: string): void {
    this.markWaypointUsers(`${ns}/${name}`);
    if (this.store.services.get(ns, name)) this.dirty.sources.add(`Service/${ns}/${name}`);
    for (const p of this.store.pods.inNamespace(ns)) {
      const l = p.metadata.labels;
      if (l?.[L.gatewayName] === name || l?.[L.istioGatewayName] === name) {
        this.dirty.sources.add(`Pod/${ns}/${p.metadata.name}`);
      }
    }
  }

  /** The policy itself; and the pods it selected or selects when that list or its enforcement changes. */
  private markAuthz(
    ns: string,
    name: string,
    old?: AuthorizationPolicyObj,
    now?: AuthorizationPolicyObj,
  ): void {
    this.dirty.aps.add(`${ns}/${name}`);
    const oldSel = old && enforcedByZtunnel(old) ? old.spec?.selector?.matchLabels : undefined;
    const newSel = now && enforcedByZtunnel(now) ? now.spec?.selector?.matchLabels : undefined;
    if (sameLabels(oldSel, newSel)) return;
    // A selector policy in the root namespace selects workloads of every namespace.
    const namespaces = ns === this.root ? [...this.store.pods.namespaces()] : [ns];
    for (const n of namespaces) this.markSelected(n, oldSel, newSel);
  }

  /** PeerAuthentication modes inherit (mesh → namespace → workload), so the whole scope is recomputed. */
  private markPeerAuthn(ns: string, name: string): void {
    this.dirty.pas.add(`${ns}/${name}`);
    this.dirty.pas.add(`${this.root}/${STATIC_STRICT_NAME}`);
    const namespaces = ns === this.root ? [...this.store.pods.namespaces()] : [ns];
    for (const n of namespaces) {
      for (const p of this.store.pods.inNamespace(n)) this.dirty.sources.add(`Pod/${n}/${p.metadata.name}`);
    }
    const paNamespaces = ns === this.root ? [...this.store.peerAuthentications.namespaces()] : [ns];
    for (const n of paNamespaces) {
      for (const pa of this.store.peerAuthentications.inNamespace(n))
        this.dirty.pas.add(`${n}/${pa.metadata.name}`);
    }
  }

  /** Marks the pods of `ns` selected by either selector (the old and the new one of a changed object). */
  private markSelected(ns: string, a?: Record<string, string>, b?: Record<string, string>): void {
    if (!hasSelector(a) && !hasSelector(b)) return;
    for (const p of this.store.pods.inNamespace(ns)) {
      const l = p.metadata.labels;
      if (selects(a, l) || selects(b, l)) {
        this.dirty.sources.add(`Pod/${ns}/${p.metadata.name}`);
      }
    }
  }

  private markWaypointUsers(key: string): void {
    for (const src of this.waypointDeps.usersOf(key)) this.dirty.sources.add(src);
  }

  /** Computes every marked resource once and diffs it against the previous output. */
  private flush(): ChangeSet {
    const tracker = new ChangeTracker();
    const { sources, aps, pas } = this.dirty;
    for (const key of aps) this.flushAuthz(tracker, key);
    for (const key of pas) this.flushPeerAuthn(tracker, key);
    for (const src of sources) {
      const first = src.indexOf('/');
      const second = src.indexOf('/', first + 1);
      const kind = src.slice(0, first) as SourceKind;
      const ns = src.slice(first + 1, second);
      const name = src.slice(second + 1);
      const computed =
        kind === 'Pod'
          ? this.computer.pod(ns, name)
          : kind === 'Service'
            ? this.computer.service(ns, name)
            : this.computer.serviceEntry(ns, name);
      this.applyAddresses(tracker, src, computed);
    }
    sources.clear();
    aps.clear();
    pas.clear();
    return tracker.result();
  }

  private flushAuthz(tracker: ChangeTracker, key: string): void {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const res = this.computer.authorizationPolicy(ns, name);
    if (res.warning)
      this.policyWarnings.set(key, {
        kind: 'AuthorizationPolicy',
        namespace: ns,
        name,
        message: res.warning,
      });
    else this.policyWarnings.delete(key);
    tracker.put(this.authorizations, 'authorizations', key, res.authorization);
  }

  private flushPeerAuthn(tracker: ChangeTracker, key: string): void {
    const slash = key.indexOf('/');
    const ns = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const value =
      name === STATIC_STRICT_NAME && ns === this.root
        ? this.computer.staticStrict()
        : this.computer.peerAuthentication(ns, name);
    const xdsName = name === STATIC_STRICT_NAME ? key : `${ns}/converted_peer_authentication_${name}`;
    tracker.put(this.authorizations, 'authorizations', xdsName, value);
  }

  private applyAddresses(tracker: ChangeTracker, src: string, computed: Computed<Address>): void {
    const previous = this.outputsBySource.get(src) ?? [];
    for (const name of previous) {
      if (!computed.outputs.has(name)) tracker.put(this.addresses, 'addresses', name, undefined);
    }
    for (const [name, value] of computed.outputs) tracker.put(this.addresses, 'addresses', name, value);
    if (computed.outputs.size > 0) this.outputsBySource.set(src, [...computed.outputs.keys()]);
    else this.outputsBySource.delete(src);
    this.waypointDeps.set(src, computed.waypointKey);
  }
}

function sameLabels(a?: Record<string, string>, b?: Record<string, string>): boolean {
  const ka = a ? Object.keys(a) : [];
  const kb = b ? Object.keys(b) : [];
  return ka.length === kb.length && ka.every((k) => a?.[k] === b?.[k]);
}
