/**
 * The waypoint's configuration from istiod: a delta xDS subscription to its own
 * `meshlite.l7.ProxyConfig` resource (`<namespace>/<name>`). A resource that does not parse or compile
 * is NACKed with the reason and the last good configuration keeps serving.
 */
import type { Logger } from '../common/logger.js';
import { DeltaClient, type TypeWatch } from '../xds/delta-client.js';
import { formatNodeId } from '../xds/node-id.js';
import { PROXY_CONFIG_SCHEMA, PROXY_CONFIG_TYPE_URL } from '../xds/type-urls.js';
import { compileConfig } from '../l7/compile.js';
import type { L7Config } from '../l7/model.js';

interface ProxyConfigMessage {
  proxy?: string;
  configJson?: string;
  schema?: number;
}

/** Parses and checks one resource; returns the config or the problems (field paths). */
export function parseProxyConfig(m: ProxyConfigMessage): { config?: L7Config; errors: string[] } {
  if ((m.schema ?? 0) !== PROXY_CONFIG_SCHEMA)
    return {
      errors: [
        `schema: ${m.schema ?? 0} is not the supported ${PROXY_CONFIG_SCHEMA}; upgrade the waypoint or istiod`,
      ],
    };
  let cfg: L7Config;
  try {
    cfg = JSON.parse(m.configJson ?? '') as L7Config;
  } catch (err) {
    return { errors: [`config_json: not JSON (${(err as Error).message})`] };
  }
  if (!Array.isArray(cfg?.services)) return { errors: ['config_json.services: must be a list'] };
  if (!Array.isArray(cfg?.clusters)) return { errors: ['config_json.clusters: must be a list'] };
  try {
    compileConfig(cfg); // regular expressions and the rest compile, or the push is refused
  } catch (err) {
    return { errors: [`config_json: does not compile: ${(err as Error).message}`] };
  }
  return { config: cfg, errors: [] };
}

export interface ConfigWatchOptions {
  address: string;
  name: string;
  namespace: string;
  podName: string;
  podIp: string;
  logger: Logger;
  /** Resource names to watch; default `<namespace>/<name>` (a waypoint's). */
  resources?: string[];
  /** xDS node type (node id prefix); default `waypoint`. */
  nodeType?: string;
  onConfig: (cfg: L7Config, resource: string) => void;
}

export function watchProxyConfig(o: ConfigWatchOptions): DeltaClient {
  const names = o.resources ?? [`${o.namespace}/${o.name}`];
  const watch: TypeWatch<ProxyConfigMessage> = {
    typeUrl: PROXY_CONFIG_TYPE_URL,
    names,
    validate: (m) => parseProxyConfig(m).errors,
    onUpdate(upserts, removals) {
      for (const u of upserts) {
        if (!names.includes(u.name)) continue;
        const { config } = parseProxyConfig(u.value);
        if (config) o.onConfig(config, u.name);
      }
      for (const r of removals)
        if (names.includes(r)) o.onConfig({ proxy: r, services: [], clusters: [] }, r);
    },
  };
  const client = new DeltaClient({
    address: o.address,
    node: { id: formatNodeId(o.nodeType ?? 'waypoint', o.podIp, o.podName, o.namespace), cluster: o.name },
    watches: [watch as TypeWatch<unknown>],
    logger: o.logger,
  });
  client.start();
  return client;
}
