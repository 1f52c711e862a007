/**
 * ztunnel on several cores: `--workers N` (N ≥ 2) makes the process a node:cluster primary that forks
 * N workers, each a full Ztunnel (its own state source, certificates, HBONE pool and listeners). The
 * listening sockets — the per-pod HBONE and plaintext listeners, SOCKS5, DNS over TCP — are shared
 * through cluster: the primary holds each one and hands accepted connections to the workers in turn
 * (round robin, Node's default on Linux; NODE_CLUSTER_SCHED_POLICY=none lets the workers accept
 * themselves). DNS over UDP is one socket all workers read (cluster shares UDP handles; the kernel gives
 * each datagram to one reader).
 *
 * The primary carries no traffic. It owns the node's HTTP ports: /metrics sums the workers' registries,
 * /healthz/ready is ready when every worker is, /config_dump is the first live worker's, /logging sets
 * the level everywhere, POST /quitquitquit drains all. SIGTERM or SIGINT drains every worker, waits for
 * them and exits 0. A worker that dies is forked again (after 1 s) unless the primary is stopping.
 */
import cluster, { type Worker } from 'node:cluster';
import { json, listen } from './admin.js';
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { isLogLevel } from '../common/logger.js';
import { MeshError, errorMessage } from '../common/errors.js';
import type { ZtunnelConfig } from './config.js';

/**
 * How many worker processes `--workers` asks for. 0 (the default) means one per core beyond the first,
 * leaving a core to the node's pods and the primary: a 2-core node runs one process as before (where
 * the benchmark found a second worker costs more CPU per request than it gives), a 4-core node 3
 * workers. 1 means no cluster at all.
 */
export function workerCount(requested: number, cores = availableParallelism()): number {
  return requested === 0 ? Math.max(1, cores - 1) : requested;
}

/** Primary → worker and back, over the cluster IPC channel. */
type Ask =
  | { type: 'zt:metrics' }
  | { type: 'zt:ready' }
  | { type: 'zt:config' }
  | { type: 'zt:logging'; level: string };
interface Request {
  zt: 'req';
  id: number;
  ask: Ask;
}
interface Reply {
  zt: 'res';
  id: number;
  value?: unknown;
  error?: string;
}
const DRAIN = { zt: 'drain' } as const;
/** Worker → primary: its Ztunnel has started. */
export const STARTED = { zt: 'started' } as const;

/** What a worker answers the primary with: the parts of its Ztunnel the node-level ports need. */
export interface WorkerSide {
  registry: Registry;
  log: Logger;
  readiness(): { ready: boolean; reason?: string };
  configDump(): unknown;
  /** Drains the worker's Ztunnel (the worker exits afterwards). */
  drain(): Promise<void>;
}

/** In a worker: answers the primary's requests and drains when told to (or when the primary is gone). */
export function serveWorker(w: WorkerSide): void {
  let draining: Promise<void> | undefined;
  const drain = (): void => {
    draining ??= w.drain().finally(() => process.exit(0));
  };
  process.on('message', (m: Request | typeof DRAIN) => {
    if (m.zt === 'drain') return drain();
    if (m.zt !== 'req') return;
    answer(w, m.ask).then(
      (value) => process.send?.({ zt: 'res', id: m.id, value } satisfies Reply),
      (err: unknown) => process.send?.({ zt: 'res', id: m.id, error: errorMessage(err) } satisfies Reply),
    );
  });
  process.on('disconnect', drain);
  // A signal to the whole process group (Ctrl-C in a terminal) reaches the workers too.
  process.on('SIGTERM', drain);
  process.on('SIGINT', drain);
  process.send?.(STARTED);
}

async function answer(w: WorkerSide, ask: Ask): Promise<unknown> {
  switch (ask.type) {
    case 'zt:metrics':
      return w.registry.getMetricsAsJSON();
    case 'zt:ready':
      return w.readiness();
    case 'zt:config':
      return w.configDump();
    case 'zt:logging':
      if (isLogLevel(ask.level)) w.log.level = ask.level;
      return w.log.level;
  }
}

/** Gauges that state a fact about the build or the process, not a quantity to add up across workers. */
const NOT_SUMMED = new Set(['istio_build']);

/** The workers' metrics as one registry: counters and gauges summed, build info taken once. */
export function aggregateMetrics(perWorker: MetricObjectWithValues<MetricValue<string>>[][]): Registry {
  for (const list of perWorker)
    for (const m of list) if (NOT_SUMMED.has(m.name)) (m as { aggregator: string }).aggregator = 'first';
  return AggregatorRegistry.aggregate(perWorker);
}

export class ZtunnelPrimary {
  private readonly cfg: ZtunnelConfig;
  private readonly log: Logger;
  private readonly count: number;
  private readonly servers: http.Server[] = [];
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private stopping: Promise<number> | undefined;
  readonly ports = { admin: 0, metrics: 0, readiness: 0 };

  constructor(cfg: ZtunnelConfig, log: Logger, count: number) {
    this.cfg = cfg;
    this.log = log;
    this.count = count;
  }

  /**
   * Opens the node-level HTTP ports, forks the workers and waits until each has started its Ztunnel.
   * Throws (after stopping the others) when a worker exits before it started: a bad flag, state file
   * or CA directory fails every worker alike, so forking again would not help.
   */
  async start(): Promise<void> {
    await this.listenHttp();
    cluster.on('message', (_w: Worker, m: Reply) => {
      if (m?.zt !== 'res') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.value);
    });
    await Promise.all(Array.from({ length: this.count }, () => this.fork())).catch(async (err: unknown) => {
      await this.stop();
      throw err;
    });
    cluster.on('exit', (w, code, signal) => {
      if (this.stopping) return;
      this.log.error(
        { worker: w.id, code, signal },
        'ztunnel worker died; forking a new one in 1 s (see the lines above for why)',
      );
      setTimeout(() => {
        if (!this.stopping)
          this.fork().catch((err: unknown) =>
            this.log.error({ err: errorMessage(err) }, 'a new worker failed to start'),
          );
      }, 1000).unref();
    });
    this.log.info(
      { node: this.cfg.nodeName, workers: this.count, ports: this.ports },
      'ztunnel primary started',
    );
  }

  /** Drains every worker (each within the drain deadline), closes the ports; resolves with the exit code. */
  stop(): Promise<number> {
    this.stopping ??= this.drainAll();
    return this.stopping;
  }

  /** Forks one worker; resolves when its Ztunnel has started. */
  private fork(): Promise<void> {
    // The workers run this same program with the same flags; main.ts sees cluster.isWorker.
    const w = cluster.fork();
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null, signal: string | null): void =>
        reject(
          new MeshError(
            'ZT_ERR_WORKER',
            `ztunnel worker ${w.id} exited (${signal ?? `code ${code}`}) before it started; its error is above`,
          ),
        );
      w.once('exit', onExit);
      w.on('message', (m: { zt?: string }) => {
        if (m?.zt !== STARTED.zt) return;
        w.off('exit', onExit);
        resolve();
      });
    });
  }

  private live(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && w.isConnected());
  }

  private ask(w: Worker, ask: Ask, timeoutMs = 3000): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`worker ${w.id} did not answer ${ask.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      w.send({ zt: 'req', id, ask } satisfies Request);
    });
  }

  private async drainAll(): Promise<number> {
    const workers = this.live();
    this.log.info(
      { workers: workers.length, deadlineMs: this.cfg.drainDeadline },
      'ztunnel draining workers',
    );
    const exited = workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          // A worker past its drain deadline (plus a margin) is killed.
          const kill = setTimeout(() => w.process.kill('SIGKILL'), this.cfg.drainDeadline + 3000);
          w.once('exit', () => (clearTimeout(kill), resolve()));
          w.send(DRAIN);
        }),
    );
    await Promise.all(exited);
    for (const s of this.servers) {
      s.close();
      s.closeAllConnections();
    }
    this.log.info('ztunnel stopped (all workers drained)');
    return 0;
  }

  private async listenHttp(): Promise<void> {
    const c = this.cfg;
    this.ports.metrics = await listen(
      this.handler((req, res) => this.metrics(req, res)),
      c.metricsPort,
      c.nodeIp,
    );
    this.ports.readiness = await listen(
      this.handler((req, res) => this.readiness(req, res)),
      c.readinessPort,
      c.nodeIp,
    );
    this.ports.admin = await listen(
      this.handler((req, res) => this.admin(req, res)),
      c.adminPort,
      c.adminAddress,
    );
  }

  private handler(h: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>): http.Server {
    const srv = http.createServer((req, res) => {
      h(req, res).catch((err: unknown) => json(res, 500, { error: errorMessage(err) }));
    });
    this.servers.push(srv);
    return srv;
  }

  private async metrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (path(req) !== '/metrics') return json(res, 404, { error: 'try /metrics' });
    const lists = (await Promise.all(
      this.live().map((w) => this.ask(w, { type: 'zt:metrics' })),
    )) as Parameters<typeof aggregateMetrics>[0];
    const reg = aggregateMetrics(lists);
    const text = await reg.metrics();
    res.writeHead(200, { 'content-type': reg.contentType });
    res.end(text);
  }

  private async readiness(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (path(req) !== '/healthz/ready') return json(res, 404, { error: 'try /healthz/ready' });
    const workers = this.live();
    let reason = workers.length < this.count ? `${workers.length} of ${this.count} workers up` : '';
    if (!reason) {
      const rs = (await Promise.all(workers.map((w) => this.ask(w, { type: 'zt:ready' })))) as Array<{
        ready: boolean;
        reason?: string;
      }>;
      const notReady = rs.find((r) => !r.ready);
      if (notReady) reason = notReady.reason ?? 'a worker is starting';
    }
    if (this.stopping) reason = 'draining';
    res.writeHead(reason ? 503 : 200, { 'content-type': 'text/plain' });
    res.end(reason ? `not ready: ${reason}\n` : 'ready\n');
  }

  private async admin(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const workers = this.live();
    switch (url.pathname) {
      case '/config_dump': {
        const first = workers[0];
        if (!first) return json(res, 503, { error: 'no worker is up' });
        const dump = await this.ask(first, { type: 'zt:config' });
        return json(res, 200, { worker: first.id, workers: workers.length, ...(dump as object) });
      }
      case '/logging': {
        const level = url.searchParams.get('level');
        if (level) {
          if (!isLogLevel(level))
            return json(res, 400, {
              error: `level "${level}" is not one of fatal, error, warn, info, debug, trace, silent`,
            });
          this.log.level = level;
          await Promise.all(workers.map((w) => this.ask(w, { type: 'zt:logging', level })));
          this.log.info({ level }, 'log level changed in the primary and every worker');
        }
        return json(res, 200, { level: this.log.level });
      }
      case '/quitquitquit':
        if (req.method !== 'POST') return json(res, 405, { error: 'POST /quitquitquit' });
        json(res, 200, { draining: true });
        void this.stop().then((code) => process.exit(code));
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

function path(req: http.IncomingMessage): string {
  return req.url?.split('?')[0] ?? '';
}
