/** Builders of wire resources for the ztunnel unit tests (text IPs in, raw bytes out). */
import type { Authorization, Match } from '../../../src/xds/security-types.js';
import type { Address, GatewayAddress, Service, Workload } from '../../../src/xds/workload-types.js';
import { parseIp } from '../../../src/ztunnel/state/ip.js';
import { StateStore } from '../../../src/ztunnel/state/store.js';
import type { Workload as InternalWorkload } from '../../../src/ztunnel/state/types.js';

export function ip(text: string): Uint8Array {
  const b = parseIp(text);
  if (!b) throw new Error(`bad test IP ${text}`);
  return b;
}

export interface PodOpts extends Omit<Workload, 'addresses' | 'services'> {
  ips?: string[];
  /** service key → [servicePort, targetPort] pairs */
  services?: Record<string, Array<[number, number]>>;
}

export function pod(name: string, address: string | string[], opts: PodOpts = {}): Workload {
  const { ips, services, ...rest } = opts;
  const w: Workload = {
    uid: `c1//Pod/${opts.namespace ?? 'default'}/${name}`,
    name,
    namespace: 'default',
    addresses: (ips ?? (Array.isArray(address) ? address : [address])).map(ip),
    tunnelProtocol: 1,
    serviceAccount: name,
    node: 'node1',
    ...rest,
  };
  if (services) {
    w.services = {};
    for (const [k, pairs] of Object.entries(services)) {
      w.services[k] = { ports: pairs.map(([servicePort, targetPort]) => ({ servicePort, targetPort })) };
    }
  }
  return w;
}

export function svc(name: string, vip: string | string[], opts: Partial<Service> = {}): Service {
  const ns = opts.namespace ?? 'default';
  return {
    name,
    namespace: ns,
    hostname: `${name}.${ns}.svc.cluster.local`,
    addresses: (Array.isArray(vip) ? vip : [vip]).map((v) => ({ network: '', address: ip(v) })),
    ports: [{ servicePort: 80, targetPort: 8080 }],
    ...opts,
  };
}

export function svcKey(name: string, ns = 'default'): string {
  return `${ns}/${name}.${ns}.svc.cluster.local`;
}

export function waypointByHost(name: string, ns = 'default'): GatewayAddress {
  return { hostname: { namespace: ns, hostname: `${name}.${ns}.svc.cluster.local` }, hboneMtlsPort: 15008 };
}

export function waypointByIp(address: string): GatewayAddress {
  return { address: { network: '', address: ip(address) }, hboneMtlsPort: 15008 };
}

export function addressName(a: Address): string {
  if (a.workload) return a.workload.uid ?? '';
  return `${a.service?.namespace}/${a.service?.hostname}`;
}

/** A store holding these resources; throws if any is rejected. */
export function storeOf(resources: Array<Workload | Service>, policies: Authorization[] = []): StateStore {
  const store = new StateStore();
  const upserts = new Map<string, Address>();
  for (const r of resources) {
    const a: Address =
      'hostname' in r && !('uid' in r) ? { service: r as Service } : { workload: r as Workload };
    upserts.set(addressName(a), a);
  }
  const res = store.applyAddresses(upserts, []);
  if (res.errors.length) throw new Error(JSON.stringify(res.errors));
  const pol = store.applyAuthorizations(new Map(policies.map((p) => [`${p.namespace}/${p.name}`, p])), []);
  if (pol.errors.length) throw new Error(JSON.stringify(pol.errors));
  return store;
}

export function wl(store: StateStore, name: string, ns = 'default'): InternalWorkload {
  const w = store.workloadByUid(`c1//Pod/${ns}/${name}`);
  if (!w) throw new Error(`no workload ${name}`);
  return w;
}

export function policy(
  name: string,
  action: 'ALLOW' | 'DENY',
  matches: Match[][],
  opts: Partial<Authorization> = {},
): Authorization {
  return {
    name,
    namespace: 'default',
    scope: 1,
    action: action === 'ALLOW' ? 0 : 1,
    groups: [{ rules: matches.map((m) => ({ matches: m })) }],
    ...opts,
  };
}

/** Deterministic uniform [0,1) generator (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
