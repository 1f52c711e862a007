/**
 * The state file speaks the xDS wire shapes (protobufjs camelCase field names) with two conveniences
 * for people writing it by hand: IPs are text (`10.0.0.1`, CIDRs `10.0.0.0/8`), and enums may be
 * written by name (`HBONE`, `DENY`, `FAILOVER`). This module turns those into the exact wire values,
 * so the file goes through the same conversion and validation as xDS does.
 */
import { AuthorizationAction, AuthorizationScope } from '../../xds/security-types.js';
import type { Authorization, CidrAddress, Match } from '../../xds/security-types.js';
import {
  AppProtocol,
  HealthPolicy,
  LoadBalancingMode,
  LoadBalancingScope,
  NetworkMode,
  TunnelProtocol,
  WorkloadStatus,
  WorkloadType,
} from '../../xds/workload-types.js';
import type { GatewayAddress, NetworkAddress, Service, Workload } from '../../xds/workload-types.js';
import { parseIp } from './ip.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Replaces an enum written by name with its number; numbers pass through. */
function enumField(
  o: Obj,
  field: string,
  values: Record<string, number>,
  path: string,
  errors: string[],
): void {
  const v = o[field];
  if (typeof v !== 'string') return;
  const n = values[v.toUpperCase()];
  if (n === undefined)
    errors.push(`${path}.${field}: unknown value "${v}" (one of ${Object.keys(values).join(', ')})`);
  else o[field] = n;
}

function ipBytes(v: unknown, path: string, errors: string[]): Uint8Array {
  if (typeof v === 'string') {
    const b = parseIp(v.trim());
    if (b) return b;
    errors.push(`${path}: "${v}" is not an IP address`);
  } else errors.push(`${path}: expected an IP address as text`);
  return new Uint8Array(0);
}

function networkAddress(v: unknown, path: string, errors: string[]): NetworkAddress {
  if (typeof v === 'string') return { address: ipBytes(v, path, errors) };
  if (!isObj(v)) {
    errors.push(`${path}: expected an IP or {network, address}`);
    return {};
  }
  return { ...(v as NetworkAddress), address: ipBytes(v.address, `${path}.address`, errors) };
}

function gateway(v: unknown, path: string, errors: string[]): GatewayAddress | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) {
    errors.push(`${path}: expected {hostname: {namespace, hostname}} or {address: {network, address}}`);
    return undefined;
  }
  const g = { ...(v as GatewayAddress) };
  if (v.address !== undefined) g.address = networkAddress(v.address, `${path}.address`, errors);
  return g;
}

function cidr(v: unknown, path: string, errors: string[]): CidrAddress {
  if (typeof v === 'string') {
    const slash = v.indexOf('/');
    const address = ipBytes(slash >= 0 ? v.slice(0, slash) : v, path, errors);
    const length = slash >= 0 ? Number(v.slice(slash + 1)) : address.length * 8;
    if (!Number.isInteger(length)) errors.push(`${path}: "${v}" has a bad prefix length`);
    return { address, length };
  }
  if (isObj(v)) return { address: ipBytes(v.address, `${path}.address`, errors), length: v.length as number };
  errors.push(`${path}: expected a CIDR as text`);
  return {};
}

export function fileWorkload(raw: unknown, path: string, errors: string[]): Workload {
  if (!isObj(raw)) {
    errors.push(`${path}: expected a mapping`);
    return {};
  }
  const o: Obj = { ...raw };
  if (o.addresses !== undefined) {
    o.addresses = Array.isArray(o.addresses)
      ? o.addresses.map((a, i) => ipBytes(a, `${path}.addresses[${i}]`, errors))
      : (errors.push(`${path}.addresses: expected a list`), []);
  }
  enumField(o, 'tunnelProtocol', TunnelProtocol, path, errors);
  enumField(o, 'workloadType', WorkloadType, path, errors);
  enumField(o, 'status', WorkloadStatus, path, errors);
  enumField(o, 'networkMode', NetworkMode, path, errors);
  if (typeof o.capacity === 'number') o.capacity = { value: o.capacity };
  o.waypoint = gateway(o.waypoint, `${path}.waypoint`, errors);
  o.networkGateway = gateway(o.networkGateway, `${path}.networkGateway`, errors);
  if (isObj(o.services)) {
    const services: Obj = {};
    for (const [k, v] of Object.entries(o.services)) services[k] = Array.isArray(v) ? { ports: v } : v;
    o.services = services;
  }
  return o as Workload;
}

export function fileService(raw: unknown, path: string, errors: string[]): Service {
  if (!isObj(raw)) {
    errors.push(`${path}: expected a mapping`);
    return {};
  }
  const o: Obj = { ...raw };
  if (o.addresses !== undefined) {
    o.addresses = Array.isArray(o.addresses)
      ? o.addresses.map((a, i) => networkAddress(a, `${path}.addresses[${i}]`, errors))
      : (errors.push(`${path}.addresses: expected a list`), []);
  }
  if (Array.isArray(o.ports)) {
    o.ports = o.ports.map((p: unknown, i) => {
      if (!isObj(p)) return p;
      const q = { ...p };
      enumField(q, 'appProtocol', AppProtocol, `${path}.ports[${i}]`, errors);
      return q;
    });
  }
  o.waypoint = gateway(o.waypoint, `${path}.waypoint`, errors);
  if (isObj(o.loadBalancing)) {
    const lb: Obj = { ...o.loadBalancing };
    enumField(lb, 'mode', LoadBalancingMode, `${path}.loadBalancing`, errors);
    enumField(lb, 'healthPolicy', HealthPolicy, `${path}.loadBalancing`, errors);
    if (Array.isArray(lb.routingPreference)) {
      lb.routingPreference = lb.routingPreference.map((s: unknown, i) => {
        const holder: Obj = { s };
        enumField(holder, 's', LoadBalancingScope, `${path}.loadBalancing.routingPreference[${i}]`, errors);
        return holder.s;
      });
    }
    o.loadBalancing = lb;
  }
  return o as Service;
}

const CIDR_FIELDS = ['sourceIps', 'notSourceIps', 'destinationIps', 'notDestinationIps'] as const;

export function filePolicy(raw: unknown, path: string, errors: string[]): Authorization {
  if (!isObj(raw)) {
    errors.push(`${path}: expected a mapping`);
    return {};
  }
  const o: Obj = { ...raw };
  enumField(o, 'scope', AuthorizationScope, path, errors);
  enumField(o, 'action', AuthorizationAction, path, errors);
  if (Array.isArray(o.groups)) {
    o.groups = o.groups.map((g: unknown, gi) => {
      if (!isObj(g) || !Array.isArray(g.rules)) return g;
      const rules = g.rules.map((r: unknown, ri) => {
        if (!isObj(r) || !Array.isArray(r.matches)) return r;
        const matches = r.matches.map((m: unknown, mi) => {
          if (!isObj(m)) return m;
          const out: Obj = { ...m };
          for (const f of CIDR_FIELDS) {
            const list = out[f];
            if (Array.isArray(list)) {
              out[f] = list.map((c, ci) =>
                cidr(c, `${path}.groups[${gi}].rules[${ri}].matches[${mi}].${f}[${ci}]`, errors),
              );
            }
          }
          return out as Match;
        });
        return { ...r, matches };
      });
      return { ...g, rules };
    });
  }
  return o as Authorization;
}
