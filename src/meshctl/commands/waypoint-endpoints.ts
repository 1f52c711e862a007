/**
 * `meshctl waypoint endpoints [NAME] -n NS`: each cluster's endpoints as the waypoint sees them now,
 * with outlier detection's verdict (HEALTHY / EJECTED, the detector, until when, times ejected) and
 * the connection pool in use. Reads the waypoint pod's `/debug/endpoints` on port 15020 (the pod's
 * address from the cluster's configuration), or `--waypoint-admin HOST:PORT`.
 */
import type { ConfigObject, Pod } from '../../istiod/config/types.js';
import type { EngineDebugView } from '../../l7/debug-view.js';
import { ConfigDir } from '../config-dir.js';
import { formatTable } from '../text-table.js';

export interface EndpointsArgs {
  configDir: string;
  namespace: string;
  name: string;
  admin: string;
}

async function adminAddress(a: EndpointsArgs): Promise<string | undefined> {
  if (a.admin) return a.admin;
  const { objects } = await new ConfigDir(a.configDir).load();
  const pod = [...objects.values()]
    .map((s) => s.object)
    .find(
      (o: ConfigObject): o is Pod =>
        o.kind === 'Pod' &&
        o.metadata.namespace === a.namespace &&
        o.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] === a.name &&
        typeof o.status?.podIP === 'string',
    );
  return pod ? `${pod.status!.podIP}:15020` : undefined;
}

export async function waypointEndpoints(a: EndpointsArgs): Promise<number> {
  const addr = await adminAddress(a);
  if (!addr) {
    process.stderr.write(
      `error: no running pod for waypoint ${a.namespace}/${a.name}; check meshctl waypoint list -n ${a.namespace}, or give --waypoint-admin HOST:PORT\n`,
    );
    return 1;
  }
  let view: EngineDebugView;
  try {
    const res = await fetch(`http://${addr}/debug/endpoints`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    view = (await res.json()) as EngineDebugView;
  } catch (err) {
    process.stderr.write(`error: cannot read http://${addr}/debug/endpoints: ${(err as Error).message}\n`);
    return 1;
  }
  const rows: string[][] = [];
  for (const c of view.clusters)
    for (const e of c.endpoints)
      rows.push([
        e.endpoint,
        e.health,
        c.outlierDetection ? (e.reason ?? '-') : 'off',
        e.ejectedUntil ?? '-',
        String(e.timesEjected),
        `${c.inUse.requests}/${c.connectionPool?.maxRequests ?? c.connectionPool?.maxConnections ?? '∞'}`,
        c.name,
      ]);
  process.stdout.write(
    formatTable(['ENDPOINT', 'HEALTH', 'OUTLIER', 'EJECTED UNTIL', 'EJECTIONS', 'IN USE', 'CLUSTER'], rows, {
      gap: 3,
    }),
  );
  for (const j of view.jwks)
    process.stdout.write(
      `jwks ${j.uri}: ${j.ok ? `ok (fetched ${j.fetchedAt})` : `FAILING: ${j.error ?? 'not fetched yet'}`}\n`,
    );
  return 0;
}
