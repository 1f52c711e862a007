/**
 * Pieces shared by the wire → internal conversions. Each converter collects field-path errors
 * (`workload.addresses[1]: ...`) instead of throwing; one error rejects that resource only.
 */
import type { GatewayAddress } from '../../xds/workload-types.js';
import { badAddressBytes, bytesToIp } from './ip.js';
import { DEFAULT_HBONE_PORT, type GatewayRef } from './types.js';

/** The result of converting one resource: the value, or the reasons it was rejected. */
export type Converted<T> = { ok: true; value: T } | { ok: false; errors: string[] };

export function result<T>(value: T, errors: string[]): Converted<T> {
  return errors.length === 0 ? { ok: true, value } : { ok: false, errors };
}

/** Maps a wire enum number to its internal word; records an error for an unknown number. */
export function enumOf<T>(value: number | undefined, words: readonly T[], path: string, errors: string[]): T {
  const v = value ?? 0;
  const word = Number.isInteger(v) ? words[v] : undefined;
  if (word === undefined) {
    errors.push(`${path}: unknown value ${String(value)}`);
    return words[0] as T;
  }
  return word;
}

export function checkPort(
  port: number | undefined,
  path: string,
  errors: string[],
  allowZero: boolean,
): number {
  const p = port ?? 0;
  if (!Number.isInteger(p) || p < 0 || p > 65535 || (p === 0 && !allowZero)) {
    errors.push(`${path}: ${String(port)} is not a port (1-65535)`);
    return 0;
  }
  return p;
}

export function gatewayOf(
  g: GatewayAddress | undefined,
  path: string,
  errors: string[],
): GatewayRef | undefined {
  if (!g) return undefined;
  const hbonePort = checkPort(g.hboneMtlsPort, `${path}.hboneMtlsPort`, errors, true) || DEFAULT_HBONE_PORT;
  if (g.hostname && g.address) {
    errors.push(`${path}: both hostname and address are set; exactly one is allowed`);
    return undefined;
  }
  if (g.hostname) {
    const namespace = g.hostname.namespace ?? '';
    const hostname = g.hostname.hostname ?? '';
    if (!hostname) errors.push(`${path}.hostname.hostname: empty`);
    if (!namespace) errors.push(`${path}.hostname.namespace: empty`);
    return { kind: 'hostname', namespace, hostname, key: `${namespace}/${hostname}`, hbonePort };
  }
  if (g.address) {
    const bad = badAddressBytes(g.address.address);
    if (bad) {
      errors.push(`${path}.address.address: ${bad}`);
      return undefined;
    }
    const ip = bytesToIp(g.address.address as Uint8Array) as string;
    return { kind: 'address', network: g.address.network ?? '', ip, hbonePort };
  }
  errors.push(`${path}: neither hostname nor address is set`);
  return undefined;
}
