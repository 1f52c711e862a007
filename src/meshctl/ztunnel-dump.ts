/**
 * ztunnel's /config_dump as meshctl reads it (see src/ztunnel/app.ts `configDump()`), checked at the
 * edge: missing or odd fields become empty values, so a newer or older ztunnel still prints.
 */
import { MeshError, errorMessage } from '../common/errors.js';
import { formatEndpoint, httpGetJson, type Endpoint } from './admin-client.js';

type Json = Record<string, unknown>;

export interface DumpWorkload {
  uid: string;
  name: string;
  namespace: string;
  addresses: string[];
  node: string;
  protocol: string;
  identity: string;
  /** A GatewayRef as ztunnel writes it, or undefined. */
  waypoint: unknown;
  healthy: boolean;
  raw: Json;
}

export interface DumpService {
  name: string;
  namespace: string;
  hostname: string;
  vips: string[];
  waypoint: unknown;
  /** Workload uids. */
  endpoints: string[];
  raw: Json;
}

export interface DumpPolicy {
  name: string;
  namespace: string;
  scope: string;
  action: string;
  dryRun: boolean;
  raw: Json;
}

export interface DumpCertificate {
  identity: string;
  state: string;
  notAfter?: string;
  notBefore?: string;
  serial?: string;
  raw: Json;
}

export interface ZtunnelDump {
  /** The admin address it came from. */
  admin: string;
  node: string;
  workloads: DumpWorkload[];
  services: DumpService[];
  policies: DumpPolicy[];
  certificates: DumpCertificate[];
  raw: Json;
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Json, k: string): string => (typeof o[k] === 'string' ? o[k] : '');
const optStr = (o: Json, k: string): string | undefined => (typeof o[k] === 'string' ? o[k] : undefined);
const strs = (o: Json, k: string): string[] =>
  Array.isArray(o[k]) ? o[k].filter((x): x is string => typeof x === 'string') : [];
const objs = (o: Json, k: string): Json[] => (Array.isArray(o[k]) ? o[k].filter(isObj) : []);

/** Reads a config_dump body; undefined when it is not a JSON object at all. */
export function parseDump(admin: string, body: unknown): ZtunnelDump | undefined {
  if (!isObj(body)) return undefined;
  return {
    admin,
    node: str(body, 'node'),
    workloads: objs(body, 'workloads').map((w) => ({
      uid: str(w, 'uid'),
      name: str(w, 'name'),
      namespace: str(w, 'namespace'),
      addresses: strs(w, 'addresses'),
      node: str(w, 'node'),
      protocol: str(w, 'protocol'),
      identity: str(w, 'identity'),
      waypoint: w.waypoint,
      healthy: w.healthy !== false,
      raw: w,
    })),
    services: objs(body, 'services').map((s) => ({
      name: str(s, 'name'),
      namespace: str(s, 'namespace'),
      hostname: str(s, 'hostname'),
      vips: strs(s, 'vips'),
      waypoint: s.waypoint,
      endpoints: strs(s, 'endpoints'),
      raw: s,
    })),
    policies: objs(body, 'policies').map((p) => ({
      name: str(p, 'name'),
      namespace: str(p, 'namespace'),
      scope: str(p, 'scope'),
      action: str(p, 'action'),
      dryRun: p.dryRun === true,
      raw: p,
    })),
    certificates: objs(body, 'certificates').map((c) => ({
      identity: str(c, 'identity') || str(c, 'uri'),
      state: str(c, 'state'),
      notAfter: optStr(c, 'notAfter'),
      notBefore: optStr(c, 'notBefore'),
      serial: optStr(c, 'serial'),
      raw: c,
    })),
    raw: body,
  };
}

export type DumpResult = { ok: true; dump: ZtunnelDump } | { ok: false; admin: string; error: string };

/** The one line printed for an admin endpoint that could not be read: what failed and what to check. */
export function unreachableLine(admin: string, error: string): string {
  return (
    `cannot read ztunnel admin at ${admin} (${error}); is ztunnel running on that node, and is ` +
    `--ztunnel-admin (or MESH_ZTUNNEL_ADMIN) its admin address (port 15000 by default)?`
  );
}

/** GET /config_dump of every endpoint, in parallel; each result is a dump or the reason it failed. */
export async function fetchDumps(endpoints: readonly Endpoint[], timeoutMs: number): Promise<DumpResult[]> {
  return Promise.all(
    endpoints.map(async (e): Promise<DumpResult> => {
      const admin = formatEndpoint(e);
      try {
        const dump = parseDump(admin, await httpGetJson(e, '/config_dump', timeoutMs));
        if (!dump) throw new MeshError('MESHCTL_ERR_BAD_RESPONSE', '/config_dump is not a JSON object');
        return { ok: true, dump };
      } catch (err) {
        return { ok: false, admin, error: errorMessage(err) };
      }
    }),
  );
}
