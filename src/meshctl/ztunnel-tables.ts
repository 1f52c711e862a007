/**
 * The tables of `meshctl ztunnel-config`, with istioctl's columns (`istioctl ztunnel-config ...`).
 * Pure functions from the parsed config dumps to header and rows.
 */
import type { DumpCertificate, DumpPolicy, DumpService, DumpWorkload, ZtunnelDump } from './ztunnel-dump.js';

export interface Table {
  headers: string[];
  rows: string[][];
}

const byNsName = <T extends { namespace: string; name: string }>(a: T, b: T): number =>
  a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);

/** How a waypoint reference reads: the waypoint service's name, its IP, or None. */
export function waypointName(ref: unknown): string {
  if (typeof ref !== 'object' || ref === null) return 'None';
  const r = ref as Record<string, unknown>;
  if (typeof r.hostname === 'string' && r.hostname) return r.hostname.split('.')[0]!;
  if (typeof r.ip === 'string' && r.ip) return r.ip;
  return 'None';
}

/** Without a tunnel, ztunnel carries the bytes as plain TCP; istioctl prints that as TCP. */
function protocolName(p: string): string {
  return p === 'NONE' || p === '' ? 'TCP' : p;
}

/** A VIP as `network/ip` (ztunnel's dump) loses its network part, as istioctl shows it. */
function vipText(v: string): string {
  const slash = v.indexOf('/');
  return slash >= 0 ? v.slice(slash + 1) : v;
}

/** Every ztunnel holds the mesh-wide view: the union over nodes, first seen wins. */
export function mergeDumps(dumps: readonly ZtunnelDump[]): {
  workloads: DumpWorkload[];
  services: DumpService[];
  policies: DumpPolicy[];
} {
  const w = new Map<string, DumpWorkload>();
  const s = new Map<string, DumpService>();
  const p = new Map<string, DumpPolicy>();
  for (const d of dumps) {
    for (const x of d.workloads) if (!w.has(x.uid)) w.set(x.uid, x);
    for (const x of d.services) {
      const key = `${x.namespace}/${x.hostname || x.name}`;
      if (!s.has(key)) s.set(key, x);
    }
    for (const x of d.policies) {
      const key = `${x.namespace}/${x.name}`;
      if (!p.has(key)) p.set(key, x);
    }
  }
  return {
    workloads: [...w.values()].sort(byNsName),
    services: [...s.values()].sort(byNsName),
    policies: [...p.values()].sort(byNsName),
  };
}

export function workloadTable(workloads: readonly DumpWorkload[]): Table {
  return {
    headers: ['NAMESPACE', 'POD NAME', 'ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL'],
    rows: workloads.map((w) => [
      w.namespace,
      w.name,
      w.addresses.join(',') || 'None',
      w.node || 'None',
      waypointName(w.waypoint),
      protocolName(w.protocol),
    ]),
  };
}

/** ENDPOINTS is healthy/total, the health read from the workloads of the same dump. */
export function serviceTable(services: readonly DumpService[], workloads: readonly DumpWorkload[]): Table {
  const healthy = new Map(workloads.map((w) => [w.uid, w.healthy]));
  return {
    headers: ['NAMESPACE', 'SERVICE NAME', 'SERVICE VIP', 'WAYPOINT', 'ENDPOINTS'],
    rows: services.map((s) => [
      s.namespace,
      s.name,
      s.vips.map(vipText).join(',') || 'None',
      waypointName(s.waypoint),
      `${s.endpoints.filter((uid) => healthy.get(uid) === true).length}/${s.endpoints.length}`,
    ]),
  };
}

const SCOPES: Record<string, string> = {
  global: 'Global',
  namespace: 'Namespace',
  'workload-selector': 'WorkloadSelector',
};

function capitalize(s: string): string {
  return s ? s[0]!.toUpperCase() + s.slice(1).toLowerCase() : s;
}

export function policyTable(policies: readonly DumpPolicy[]): Table {
  return {
    headers: ['NAMESPACE', 'POLICY NAME', 'ACTION', 'SCOPE'],
    rows: policies.map((p) => [
      p.namespace,
      p.name,
      capitalize(p.action) + (p.dryRun ? ' (dry run)' : ''),
      SCOPES[p.scope] ?? p.scope,
    ]),
  };
}

/** ztunnel's certificate states in istioctl's words. */
const STATUS: Record<string, string> = {
  ready: 'Available',
  retrying: 'Available',
  fetching: 'Initializing',
  failed: 'Unavailable',
};

/** RFC 3339 to the second, as istioctl prints it; NA when unknown. */
function timeText(iso: string | undefined): string {
  if (!iso) return 'NA';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface NodeCertificate {
  node: string;
  cert: DumpCertificate;
}

/** One row per workload certificate; a NODE column first when several ztunnels are shown. */
export function certificateTable(
  certs: readonly NodeCertificate[],
  withNode: boolean,
  now = Date.now(),
): Table {
  const sorted = [...certs].sort(
    (a, b) => a.node.localeCompare(b.node) || a.cert.identity.localeCompare(b.cert.identity),
  );
  const headers = [
    'CERTIFICATE NAME',
    'TYPE',
    'STATUS',
    'VALID CERT',
    'SERIAL NUMBER',
    'NOT AFTER',
    'NOT BEFORE',
  ];
  return {
    headers: withNode ? ['NODE', ...headers] : headers,
    rows: sorted.map(({ node, cert: c }) => {
      const notAfter = c.notAfter ? Date.parse(c.notAfter) : NaN;
      const valid = c.state !== 'fetching' && c.state !== 'failed' && notAfter > now;
      const row = [
        c.identity,
        c.notAfter ? 'Leaf' : 'NA',
        STATUS[c.state] ?? (capitalize(c.state) || 'Unknown'),
        String(valid),
        c.serial || 'NA',
        timeText(c.notAfter),
        timeText(c.notBefore),
      ];
      return withNode ? [node, ...row] : row;
    }),
  };
}
