/**
 * The state ztunnel proxies with: workloads, services and authorization policies, indexed the way the
 * data path asks for them. Fed by the xDS client (`applyAddresses`, `applyAuthorizations`) or by a
 * local file (state-file.ts). Wire resources are converted and validated here; a resource that fails
 * keeps its previous version and is reported with field-path errors (the NACK's error_detail) while
 * every other resource of the update applies.
 */
import type { Authorization } from '../../xds/security-types.js';
import type { Address } from '../../xds/workload-types.js';
import { convertPolicy } from './convert-policy.js';
import { convertService } from './convert-service.js';
import { convertWorkload } from './convert-workload.js';
import { EndpointSet } from './endpoint-set.js';
import { AddressIndex } from './address-index.js';
import { PolicyIndex } from './policy-index.js';
import type { Policy, Service, Workload } from './types.js';

export interface ResourceErrors {
  name: string;
  errors: string[];
}

export interface ApplyResult {
  errors: ResourceErrors[];
}

/** What one apply call changed (names are xDS resource names). */
export interface StateChange {
  type: 'addresses' | 'authorizations';
  upserted: string[];
  removed: string[];
}

export type StateListener = (change: StateChange) => void;

type AddressRef = { kind: 'workload'; uid: string } | { kind: 'service'; key: string };

const NO_ENDPOINTS: readonly Workload[] = [];
const NO_SERVICES: readonly Service[] = [];

export class StateStore {
  /** Bumped on every change of any kind. */
  generation = 0;
  /**
   * Bumped when policies change. A policy candidate set depends on this and on the workload object
   * (a workload update always makes a new object), so it can be cached on the pair.
   */
  policyGeneration = 0;

  private readonly names = new Map<string, AddressRef>();
  private readonly workloadsByUid = new Map<string, Workload>();
  private readonly workloadsByAddr = new AddressIndex<Workload>();
  private readonly servicesByKey = new Map<string, Service>();
  private readonly servicesByVip = new AddressIndex<Service>();
  private readonly servicesByHost = new Map<string, Service[]>();
  private readonly endpoints = new Map<string, EndpointSet>();
  private readonly policyNames = new Map<string, string>();
  readonly policies = new PolicyIndex();
  private readonly listeners = new Set<StateListener>();

  // ------------------------------------------------------------------ updates

  applyAddresses(upserts: ReadonlyMap<string, Address>, removals: readonly string[]): ApplyResult {
    const errors: ResourceErrors[] = [];
    const upserted: string[] = [];
    const removed: string[] = [];
    for (const name of removals) if (this.removeAddress(name)) removed.push(name);
    for (const [name, addr] of upserts) {
      const errs = this.upsertAddress(name, addr);
      if (errs) errors.push({ name, errors: errs });
      else upserted.push(name);
    }
    this.changed('addresses', upserted, removed);
    return { errors };
  }

  applyAuthorizations(upserts: ReadonlyMap<string, Authorization>, removals: readonly string[]): ApplyResult {
    const errors: ResourceErrors[] = [];
    const upserted: string[] = [];
    const removed: string[] = [];
    for (const name of removals) {
      const key = this.policyNames.get(name);
      if (key === undefined) continue;
      this.policyNames.delete(name);
      this.policies.delete(key);
      removed.push(name);
    }
    for (const [name, a] of upserts) {
      const c = convertPolicy(a);
      if (!c.ok) {
        errors.push({ name, errors: c.errors });
        continue;
      }
      const oldKey = this.policyNames.get(name);
      if (oldKey !== undefined && oldKey !== c.value.key) this.policies.delete(oldKey);
      this.policyNames.set(name, c.value.key);
      this.policies.set(c.value);
      upserted.push(name);
    }
    this.changed('authorizations', upserted, removed);
    return { errors };
  }

  /** Called with every change; returns the unsubscribe function. */
  onChange(listener: StateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resource names currently held, per type (for a full resync from a file). */
  addressNames(): IterableIterator<string> {
    return this.names.keys();
  }

  authorizationNames(): IterableIterator<string> {
    return this.policyNames.keys();
  }

  // ------------------------------------------------------------------ lookups

  workloadByUid(uid: string): Workload | undefined {
    return this.workloadsByUid.get(uid);
  }

  /** By network and IP; the IP may be in any textual form (it is normalized on a miss). */
  workloadByAddress(network: string, ip: string): Workload | undefined {
    return this.workloadsByAddr.get(network, ip);
  }

  serviceByVip(network: string, ip: string): Service | undefined {
    return this.servicesByVip.get(network, ip);
  }

  /** By `<namespace>/<hostname>`. */
  serviceByKey(key: string): Service | undefined {
    return this.servicesByKey.get(key);
  }

  serviceByNamespacedHost(namespace: string, hostname: string): Service | undefined {
    return this.servicesByKey.get(`${namespace}/${hostname}`);
  }

  /** Every service with this hostname (one per namespace that defines it). */
  servicesByHostname(hostname: string): readonly Service[] {
    return this.servicesByHost.get(hostname) ?? NO_SERVICES;
  }

  /** The workloads whose services map names `<namespace>/<hostname>` (live array: do not change it). */
  endpointsOf(serviceKey: string): readonly Workload[] {
    return this.endpoints.get(serviceKey)?.list ?? NO_ENDPOINTS;
  }

  policy(key: string): Policy | undefined {
    return this.policies.get(key);
  }

  workloads(): IterableIterator<Workload> {
    return this.workloadsByUid.values();
  }

  services(): IterableIterator<Service> {
    return this.servicesByKey.values();
  }

  get counts(): { workloads: number; services: number; policies: number } {
    return {
      workloads: this.workloadsByUid.size,
      services: this.servicesByKey.size,
      policies: this.policies.size,
    };
  }

  // ------------------------------------------------------------------ internals

  private upsertAddress(name: string, addr: Address): string[] | undefined {
    if (addr.workload && addr.service)
      return ['address: both workload and service are set; exactly one is allowed'];
    if (addr.workload) {
      const c = convertWorkload(addr.workload);
      if (!c.ok) return c.errors;
      const prev = this.names.get(name);
      if (prev && (prev.kind !== 'workload' || prev.uid !== c.value.uid)) this.removeAddress(name);
      this.putWorkload(c.value);
      this.names.set(name, { kind: 'workload', uid: c.value.uid });
      return undefined;
    }
    if (addr.service) {
      const c = convertService(addr.service);
      if (!c.ok) return c.errors;
      const prev = this.names.get(name);
      if (prev && (prev.kind !== 'service' || prev.key !== c.value.key)) this.removeAddress(name);
      this.putService(c.value);
      this.names.set(name, { kind: 'service', key: c.value.key });
      return undefined;
    }
    return ['address: neither workload nor service is set'];
  }

  private removeAddress(name: string): boolean {
    const ref = this.names.get(name);
    if (!ref) return false;
    this.names.delete(name);
    if (ref.kind === 'workload') this.dropWorkload(ref.uid);
    else this.dropService(ref.key);
    return true;
  }

  private putWorkload(w: Workload): void {
    const old = this.workloadsByUid.get(w.uid);
    if (old) {
      for (const ip of old.ips) {
        if (!w.ips.includes(ip) || old.network !== w.network)
          this.workloadsByAddr.deleteIfOwner(old.network, ip, old);
      }
      for (const key of old.services.keys()) if (!w.services.has(key)) this.removeEndpoint(key, w.uid);
    }
    this.workloadsByUid.set(w.uid, w);
    for (const ip of w.ips) this.workloadsByAddr.set(w.network, ip, w);
    for (const key of w.services.keys()) {
      let set = this.endpoints.get(key);
      if (!set) this.endpoints.set(key, (set = new EndpointSet()));
      set.set(w);
    }
  }

  private dropWorkload(uid: string): void {
    const old = this.workloadsByUid.get(uid);
    if (!old) return;
    this.workloadsByUid.delete(uid);
    for (const ip of old.ips) this.workloadsByAddr.deleteIfOwner(old.network, ip, old);
    for (const key of old.services.keys()) this.removeEndpoint(key, uid);
  }

  private removeEndpoint(serviceKey: string, uid: string): void {
    const set = this.endpoints.get(serviceKey);
    if (!set) return;
    set.delete(uid);
    if (set.size === 0) this.endpoints.delete(serviceKey);
  }

  private putService(s: Service): void {
    const old = this.servicesByKey.get(s.key);
    if (old) this.dropService(s.key);
    this.servicesByKey.set(s.key, s);
    for (const v of s.vips) this.servicesByVip.set(v.network, v.ip, s);
    const list = this.servicesByHost.get(s.hostname);
    if (list) list.push(s);
    else this.servicesByHost.set(s.hostname, [s]);
  }

  private dropService(key: string): void {
    const old = this.servicesByKey.get(key);
    if (!old) return;
    this.servicesByKey.delete(key);
    for (const v of old.vips) this.servicesByVip.deleteIfOwner(v.network, v.ip, old);
    const list = this.servicesByHost.get(old.hostname);
    if (list) {
      const rest = list.filter((s) => s !== old);
      if (rest.length) this.servicesByHost.set(old.hostname, rest);
      else this.servicesByHost.delete(old.hostname);
    }
  }

  private changed(type: StateChange['type'], upserted: string[], removed: string[]): void {
    if (upserted.length === 0 && removed.length === 0) return;
    this.generation++;
    if (type === 'authorizations') this.policyGeneration++;
    const change: StateChange = { type, upserted, removed };
    // A throwing listener must not leave the others uninformed or the update half-reported.
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // The listener owns its errors.
      }
    }
  }
}
