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
  onConfig: (cfg: L7Config) => void;
}

export function watchProxyConfig(o: ConfigWatchOptions): DeltaClient {
  const resource = `${o.namespace}/${o.name}`;
  const watch: TypeWatch<ProxyConfigMessage> = {
    typeUrl: PROXY_CONFIG_TYPE_URL,
    names: [resource],
    validate: (m) => parseProxyConfig(m).errors,
    onUpdate(upserts, removals) {
      for (const u of upserts) {
        if (u.name !== resource) continue;
        const { config } = parseProxyConfig(u.value);
        if (config) o.onConfig(config);
      }
      if (removals.includes(resource)) o.onConfig({ proxy: resource, services: [], clusters: [] });
    },
  };
  const client = new DeltaClient({
    address: o.address,
    node: { id: formatNodeId('waypoint', o.podIp, o.podName, o.namespace), cluster: o.name },
    watches: [watch as TypeWatch<unknown>],
    logger: o.logger,
  });
  client.start();
  return client;
}
