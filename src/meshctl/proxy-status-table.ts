/**
 * The table of `meshctl proxy-status`: istiod's connected proxies and their sync state, from the
 * monitoring port's /debug/syncz and /debug/adsz, and istiod's version from `istio_build` in /metrics.
 */
import type { Table } from './ztunnel-tables.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (o: Json, k: string): string => (typeof o[k] === 'string' ? o[k] : '');
const num = (o: Json, k: string): number => (typeof o[k] === 'number' ? o[k] : 0);

export interface ProxySync {
  proxy: string;
  connectionId: string;
  synced: boolean;
  queued: number;
  acks: number;
  nacks: number;
  /** From /debug/adsz, when it answered. */
  type: string;
  ip: string;
  /** Shown when istiod's views carry it (`cluster` or `clusterId`). */
  cluster: string;
}

export interface IstiodStatus {
  /** The monitoring address asked. */
  istiod: string;
  version: string;
  proxies: ProxySync[];
}

/** Joins /debug/syncz (one entry per stream) with /debug/adsz's clients by connection id. */
export function joinSyncViews(syncz: unknown, adsz: unknown): ProxySync[] {
  const clients = new Map<string, Json>();
  if (isObj(adsz) && Array.isArray(adsz.clients)) {
    for (const c of adsz.clients) if (isObj(c)) clients.set(str(c, 'connectionId'), c);
  }
  if (!Array.isArray(syncz)) return [];
  return syncz.filter(isObj).map((s) => {
    const id = str(s, 'connectionId');
    const c = clients.get(id) ?? {};
    return {
      proxy: str(s, 'proxy'),
      connectionId: id,
      synced: s.synced === true,
      queued: num(s, 'queued'),
      acks: num(s, 'acks'),
      nacks: num(s, 'nacks'),
      type: str(c, 'type'),
      ip: str(c, 'ip'),
      cluster: str(s, 'cluster') || str(s, 'clusterId') || str(c, 'cluster') || str(c, 'clusterId'),
    };
  });
}

/** The `tag` of `istio_build{component="istiod",...}` in a Prometheus text page, else ''. */
export function buildVersion(metricsText: string): string {
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith('istio_build{')) continue;
    const tag = /[{,]tag="([^"]*)"/.exec(line);
    if (tag) return tag[1]!;
  }
  return '';
}

/** Sync state as istioctl words it: SYNCED, or STALE with what is still queued for the proxy. */
export function syncText(p: ProxySync): string {
  return p.synced ? 'SYNCED' : `STALE (${p.queued} queued)`;
}

export function proxyStatusTable(istiods: readonly IstiodStatus[], nameFilter = ''): Table {
  const rows = istiods
    .flatMap((i) => i.proxies.map((p) => ({ i, p })))
    .filter(({ p }) => !nameFilter || p.proxy.includes(nameFilter))
    .sort((a, b) => a.p.proxy.localeCompare(b.p.proxy) || a.i.istiod.localeCompare(b.i.istiod))
    .map(({ i, p }) => [
      p.proxy,
      p.cluster || '-',
      p.type || '-',
      p.ip || '-',
      syncText(p),
      String(p.acks),
      String(p.nacks),
      i.istiod,
      i.version || '-',
    ]);
  return {
    headers: ['NAME', 'CLUSTER', 'TYPE', 'IP', 'STATUS', 'ACKS', 'NACKS', 'ISTIOD', 'VERSION'],
    rows,
  };
}
