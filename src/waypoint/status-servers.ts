/**
 * The status ports every L7 proxy (waypoint, sidecar, ingress gateway) opens, as Istio's: metrics on
 * 15020 (`/metrics`, `/stats/prometheus`) and readiness on 15021 (200 once istiod's configuration is
 * in, else 503 with the reason), and the engine's `/debug/endpoints`. A port of 0 is not opened.
 */
import http from 'node:http';
import type { Registry } from 'prom-client';
import { json, listen } from '../ztunnel/admin.js';

export interface StatusServers {
  metrics: number;
  readiness: number;
  servers: http.Server[];
}

export async function startStatusServers(o: {
  registry: Registry;
  ready: () => boolean;
  metricsPort: number;
  readinessPort: number;
  /** In a pod's own network namespace every address is the pod's: 0.0.0.0. */
  host: string;
  /** `/debug/endpoints` on the metrics port: the engine's endpoints (outlier health, pools, JWKS). */
  debugEndpoints?: () => unknown;
}): Promise<StatusServers> {
  const out: StatusServers = { metrics: 0, readiness: 0, servers: [] };
  if (o.metricsPort > 0) {
    const m = http.createServer((req, res) => {
      if (req.url === '/metrics' || req.url === '/stats/prometheus') {
        void o.registry.metrics().then((text) => {
          res.writeHead(200, { 'content-type': o.registry.contentType });
          res.end(text);
        });
      } else if (req.url === '/debug/endpoints' && o.debugEndpoints) {
        json(res, 200, o.debugEndpoints());
      } else
        json(res, 404, { error: o.debugEndpoints ? 'try /metrics or /debug/endpoints' : 'try /metrics' });
    });
    out.servers.push(m);
    out.metrics = await listen(m, o.metricsPort, o.host);
  }
  if (o.readinessPort > 0) {
    const r = http.createServer((_req, res) =>
      o.ready()
        ? json(res, 200, { ready: true })
        : json(res, 503, { ready: false, reason: 'no configuration from istiod yet' }),
    );
    out.servers.push(r);
    out.readiness = await listen(r, o.readinessPort, o.host);
  }
  return out;
}
