/**
 * What the engine's clusters look like now, for `meshctl waypoint endpoints` and the waypoint's
 * `/debug/endpoints`: every endpoint with its outlier-detection health (ejected, why, until when, how
 * many times), the connection-pool counters, and the state of fetched JWKS.
 */
import type { L7Engine } from './engine.js';
import type { EndpointHealth } from './cluster/outlier.js';

export interface ClusterView {
  name: string;
  outlierDetection: boolean;
  connectionPool: Record<string, number> | undefined;
  inUse: { requests: number; connections: number; pending: number; retries: number };
  endpoints: EndpointHealth[];
}

export interface EngineDebugView {
  clusters: ClusterView[];
  jwks: ReturnType<L7Engine['jwks']['status']>;
}

export function engineDebugView(engine: L7Engine): EngineDebugView {
  const clusters: ClusterView[] = [];
  for (const c of engine.config.clusters.values()) {
    clusters.push({
      name: c.name,
      outlierDetection: c.outlier !== undefined,
      connectionPool: c.connectionPool as Record<string, number> | undefined,
      inUse: engine.breakers.snapshot(c.name),
      endpoints: engine.outlier.health(c),
    });
  }
  return { clusters, jwks: engine.jwks.status() };
}
