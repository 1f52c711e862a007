/**
 * istiod's monitoring port (15014): Prometheus `/metrics`, `/ready`, and JSON debug views named as
 * Istio's (`/debug/adsz` connected proxies, `/debug/syncz` their sync state, `/debug/configz` the
 * configuration and its problems).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { MeshError, errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';

/** What the endpoints show; each function is called per request. */
export interface MonitoringViews {
  /** Undefined when ready, else why not. */
  notReadyReason(): string | undefined;
  adsz(): unknown;
  syncz(): unknown;
  configz(): unknown;
}

export const DEBUG_ENDPOINTS: Record<string, string> = {
  '/debug/adsz':
    'connected proxies (and streams waiting for the initial sync), resources sent, ACKs, NACKs; resource counts per type',
  '/debug/syncz': 'per proxy: whether it holds everything (nothing queued, no write pending)',
  '/debug/configz': 'configuration source, objects by kind, current problems, policy warnings',
};

export class MonitoringServer {
  private server: Server | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly views: MonitoringViews,
    private readonly log: Logger,
  ) {}

  /** Listens; resolves to the bound port. */
  async start(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new MeshError(
            'ISTIOD_ERR_LISTEN',
            `monitoring server cannot listen on ${host}:${port}: ${err.message}; is the port in use?`,
            { cause: err },
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const bound = (server.address() as { port: number }).port;
    this.log.info({ host, port: bound }, 'monitoring server listening');
    return bound;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://istiod').pathname;
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
      switch (path) {
        case '/metrics':
          return send(res, 200, this.registry.contentType, await this.registry.metrics());
        case '/ready': {
          const reason = this.views.notReadyReason();
          return reason === undefined
            ? send(res, 200, 'text/plain', 'ready\n')
            : send(res, 503, 'text/plain', `not ready: ${reason}\n`);
        }
        case '/debug':
        case '/debug/':
          return json(res, DEBUG_ENDPOINTS);
        case '/debug/adsz':
          return json(res, this.views.adsz());
        case '/debug/syncz':
          return json(res, this.views.syncz());
        case '/debug/configz':
          return json(res, this.views.configz());
        default:
          return send(res, 404, 'text/plain', `no ${path}; try /metrics, /ready, /debug\n`);
      }
    } catch (err) {
      this.log.error({ path, err: errorMessage(err) }, 'monitoring request failed');
      send(res, 500, 'text/plain', `${errorMessage(err)}\n`);
    }
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function json(res: ServerResponse, value: unknown): void {
  send(res, 200, 'application/json', `${JSON.stringify(value, null, 2)}\n`);
}
