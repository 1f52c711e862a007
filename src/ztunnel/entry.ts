import { runCli } from '../common/cli.js';
import { createLogger } from '../common/logger.js';
import cluster from 'node:cluster';
import type { LevelWithSilent } from 'pino';
import type { Logger } from '../common/logger.js';
import { MeshError } from '../common/errors.js';
import { ztunnelSchema, type ZtunnelConfig } from './config.js';
import { serveWorker, workerCount, ZtunnelPrimary } from './cluster.js';
import { Ztunnel } from './app.js';

const USAGE = `Usage: ztunnel --node-name NODE [options]

ztunnel is the per-node L4 proxy of the ambient mesh: it takes the TCP traffic of the node's mesh pods,
carries it to the destination node inside HBONE (HTTP/2 CONNECT over mutual TLS 1.3, port 15008) with
each pod's SPIFFE identity, and enforces L4 authorization on the receiving side.

State comes from istiod over delta xDS (--xds-address), or from a file (--state-file) to run without
istiod. In loopback mode (the default, no root needed) pods are IPs on this host and ztunnel opens each
pod's listeners on its IP; capture mode opens them inside pod network namespaces.

--workers N runs N worker processes (node:cluster), each a full ztunnel, sharing the listening sockets;
0 (the default) means one per core beyond the first (so none on 1 or 2 cores), and 1 keeps everything
in this one process.`;

/** One ztunnel in this process, as before `--workers`: drains on SIGTERM/SIGINT and exits 0. */
async function single(zt: Ztunnel, logger: Logger): Promise<void> {
  await zt.start();
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'ztunnel received a signal; draining');
    void zt.shutdown().then((r) => {
      process.exitCode = 0;
      if (r.forced) logger.warn({ remaining: r.remaining }, 'drain deadline passed; closed the rest');
      setTimeout(() => process.exit(), 50); // not unref: the entry's top-level await never settles, so an emptied loop would exit 13
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/** A cluster worker: a full Ztunnel whose node-level HTTP ports belong to the primary. */
async function worker(config: ZtunnelConfig, logger: Logger): Promise<void> {
  // Port 0: the worker's own admin servers are not used (the primary answers for all workers).
  const cfg = { ...config, adminPort: 0, metricsPort: 0, readinessPort: 0, adminAddress: config.nodeIp };
  const zt = new Ztunnel(cfg, { logger });
  await zt.start();
  serveWorker({
    registry: zt.registry,
    log: logger,
    readiness: () => zt.readiness(),
    configDump: () => zt.configDump(),
    drain: async () => {
      const r = await zt.shutdown();
      if (r.forced) logger.warn({ remaining: r.remaining }, 'drain deadline passed; closed the rest');
    },
  });
}

/** The cluster primary: forks the workers, serves the node-level HTTP ports, drains all on a signal. */
async function primary(config: ZtunnelConfig, logger: Logger, count: number): Promise<void> {
  const p = new ZtunnelPrimary(config, logger, count);
  const stop = (signal: string): void => {
    logger.info({ signal }, 'ztunnel received a signal; draining every worker');
    void p.stop().then((code) => {
      process.exitCode = code;
      setTimeout(() => process.exit(), 50); // not unref: the entry's top-level await never settles, so an emptied loop would exit 13
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await p.start();
}

await runCli({
  name: 'ztunnel',
  usage: USAGE,
  schema: ztunnelSchema,
  main: async (config) => {
    if (!config.nodeName)
      throw new MeshError('ZT_ERR_CONFIG', 'no node name: give --node-name NODE (or NODE_NAME)');
    const base = createLogger({ component: 'ztunnel', level: config.logLevel as LevelWithSilent });
    if (cluster.isWorker) {
      await worker(config, base.child({ worker: cluster.worker?.id }));
    } else {
      const count = workerCount(config.workers);
      if (count <= 1) await single(new Ztunnel(config, { logger: base }), base);
      else await primary(config, base, count);
    }
    await new Promise<void>(() => {});
  },
});
// Only reached when main failed (runCli printed why) or after --help: listeners opened before the
// failure, a cluster worker's IPC channel or a primary's workers would otherwise keep the process up.
process.exit(process.exitCode ?? 0);
