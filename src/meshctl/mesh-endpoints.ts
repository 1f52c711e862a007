/**
 * Where meshctl finds the running mesh: the ztunnels' admin ports and istiod's monitoring port.
 * From flags and environment variables, else the running local cluster's state file, else this host.
 */
import { parsers, splitHostPort } from '../common/config.js';
import { MeshError } from '../common/errors.js';
import type { Endpoint } from './admin-client.js';
import { currentCluster } from '../local/cluster/state.js';

/** ztunnel's admin port when nothing else is known: the one ztunnel of this machine. */
export const DEFAULT_ZTUNNEL_ADMIN = '127.0.0.1:15000';
/** istiod's monitoring port (Istio's 15014) on this machine. */
export const DEFAULT_ISTIOD_MONITORING = '127.0.0.1:15014';

export const ZTUNNEL_ADMIN_OPTION = {
  flag: 'ztunnel-admin',
  env: 'MESH_ZTUNNEL_ADMIN',
  doc: `ztunnel admin address(es) HOST:PORT, repeatable or comma-separated; none: ${DEFAULT_ZTUNNEL_ADMIN}`,
  default: [] as string[],
  parse: parsers.list,
};

export const ISTIOD_MONITORING_OPTION = {
  flag: 'istiod',
  env: 'MESH_ISTIOD_MONITORING',
  doc: "istiod monitoring address(es) HOST:PORT (port 15014), comma-separated; default: the local cluster's istiod, else 127.0.0.1:15014",
  default: [] as string[],
  parse: parsers.list,
};

export const TIMEOUT_OPTION = {
  flag: 'timeout',
  doc: 'how long to wait for each endpoint (e.g. 500ms, 2s)',
  default: 5_000,
  parse: parsers.duration,
};

/**
 * Folds every `--flag X` / `--flag=X` of a repeatable list flag into one `--flag=X,Y` (the config
 * parser keeps only the last occurrence of a flag).
 */
export function joinRepeatedFlag(argv: readonly string[], flag: string): string[] {
  const long = `--${flag}`;
  const values: string[] = [];
  const out: string[] = [];
  let at = -1;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    let value: string | undefined;
    if (a === long && i + 1 < argv.length) value = argv[++i];
    else if (a.startsWith(`${long}=`)) value = a.slice(long.length + 1);
    else {
      out.push(a);
      continue;
    }
    if (at < 0) {
      at = out.length;
      out.push('');
    }
    values.push(value!);
  }
  if (at >= 0) out[at] = `${long}=${values.join(',')}`;
  return out;
}

function toEndpoints(list: readonly string[], what: string): Endpoint[] {
  return list.map((raw) => {
    const hp = splitHostPort(raw);
    if (!hp)
      throw new MeshError('CFG_ERR_INVALID', `${what}: "${raw}" is not an address of the form HOST:PORT`);
    return hp;
  });
}

export interface DiscoveryOptions {
  /** From --ztunnel-admin / MESH_ZTUNNEL_ADMIN (empty when neither was given). */
  ztunnelAdmin: readonly string[];
}

/**
 * The admin endpoints of the ztunnels to ask: the flag/environment values, else every node's ztunnel
 * of the running local cluster, else the one ztunnel of this host on its default port.
 */
export function discoverZtunnels(opts: DiscoveryOptions): Endpoint[] {
  if (opts.ztunnelAdmin.length > 0) return toEndpoints(opts.ztunnelAdmin, '--ztunnel-admin');
  const cluster = currentCluster();
  if (cluster)
    return toEndpoints(
      cluster.nodes.map((n) => n.admin),
      "the local cluster's ztunnel admin address",
    );
  return toEndpoints([DEFAULT_ZTUNNEL_ADMIN], 'default ztunnel admin address');
}

/** istiod monitoring endpoints: the flag/environment values, else the running local cluster's, else 127.0.0.1:15014. */
export function discoverIstiods(opts: { istiod: readonly string[] }): Endpoint[] {
  const cluster = opts.istiod.length > 0 ? undefined : currentCluster();
  const list =
    opts.istiod.length > 0 ? opts.istiod : [cluster?.istiod.monitoring ?? DEFAULT_ISTIOD_MONITORING];
  return toEndpoints(list, '--istiod');
}
