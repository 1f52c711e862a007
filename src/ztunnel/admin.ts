import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { isLogLevel } from '../common/logger.js';

export interface AdminHandlers {
  configDump(): unknown;
  ready(): { ready: boolean; reason?: string };
  quit(): void;
}

/** A JSON answer (pretty, with its length). */
export function json(res: http.ServerResponse, code: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Listens and resolves with the bound port (0 picks one). `reusePort`: a restarting ztunnel listens
 * beside the old one until that one stops.
 */
export function listen(srv: http.Server, port: number, host: string, reusePort = false): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ port, host, reusePort }, () => {
      srv.off('error', reject);
      resolve((srv.address() as AddressInfo).port);
    });
  });
}

/**
 * ztunnel's local HTTP endpoints, on Istio's ports:
 * - admin (15000, local only): GET /config_dump, GET|POST /logging?level=debug, POST /quitquitquit
 * - metrics (15020): GET /metrics (Prometheus text)
 * - readiness (15021): GET /healthz/ready (200 once the first state sync and certificates are in)
 */
export class AdminServers {
  private readonly servers: http.Server[] = [];
  readonly ports = { admin: 0, metrics: 0, readiness: 0 };

  constructor(
    private readonly log: Logger,
    private readonly registry: Registry,
    private readonly h: AdminHandlers,
  ) {}

  async start(o: {
    adminAddress: string;
    adminPort: number;
    nodeIp: string;
    metricsPort: number;
    readinessPort: number;
    mode?: string;
  }): Promise<void> {
    const reuse = o.mode === 'capture';
    const admin = http.createServer((req, res) => this.admin(req, res));
    const metrics = http.createServer((req, res) => {
      if (req.url?.split('?')[0] !== '/metrics') return json(res, 404, { error: 'try /metrics' });
      this.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': this.registry.contentType });
          res.end(text);
        },
        (err: Error) => json(res, 500, { error: err.message }),
      );
    });
    const readiness = http.createServer((req, res) => {
      if (req.url?.split('?')[0] !== '/healthz/ready') return json(res, 404, { error: 'try /healthz/ready' });
      const r = this.h.ready();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(r.ready ? 'ready\n' : `not ready: ${r.reason ?? 'starting'}\n`);
    });
    this.servers.push(admin, metrics, readiness);
    if (o.adminPort !== 0 || o.adminAddress)
      this.ports.admin = await listen(admin, o.adminPort, o.adminAddress, reuse);
    this.ports.metrics = await listen(metrics, o.metricsPort, o.nodeIp, reuse);
    this.ports.readiness = await listen(readiness, o.readinessPort, o.nodeIp, reuse);
  }

  close(): void {
    for (const s of this.servers) {
      s.close();
      s.closeAllConnections();
    }
  }

  private admin(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    switch (url.pathname) {
      case '/config_dump':
        return json(res, 200, this.h.configDump());
      case '/logging': {
        const level = url.searchParams.get('level');
        if (level) {
          if (!isLogLevel(level))
            return json(res, 400, {
              error: `level "${level}" is not one of fatal, error, warn, info, debug, trace, silent`,
            });
          this.log.level = level;
          this.log.info({ level }, 'log level changed');
        }
        return json(res, 200, { level: this.log.level });
      }
      case '/quitquitquit':
        if (req.method !== 'POST') return json(res, 405, { error: 'POST /quitquitquit' });
        json(res, 200, { draining: true });
        this.h.quit();
        return;
      case '/':
        return json(res, 200, { endpoints: ['/config_dump', '/logging?level=LEVEL', 'POST /quitquitquit'] });
      default:
        return json(res, 404, {
          error: `unknown path ${url.pathname}; try /config_dump, /logging, /quitquitquit`,
        });
    }
  }
}
