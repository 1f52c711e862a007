#!/usr/bin/env node
import { runCli } from '../common/cli.js';
import { createLogger } from '../common/logger.js';
import type { LevelWithSilent } from 'pino';
import { MeshError } from '../common/errors.js';
import { ztunnelSchema } from './config.js';
import { Ztunnel } from './app.js';

const USAGE = `Usage: ztunnel --node-name NODE [options]

ztunnel is the per-node L4 proxy of the ambient mesh: it takes the TCP traffic of the node's mesh pods,
carries it to the destination node inside HBONE (HTTP/2 CONNECT over mutual TLS 1.3, port 15008) with
each pod's SPIFFE identity, and enforces L4 authorization on the receiving side.

State comes from istiod over delta xDS (--xds-address), or from a file (--state-file) to run without
istiod. In loopback mode (the default, no root needed) pods are IPs on this host and ztunnel opens each
pod's listeners on its IP; capture mode opens them inside pod network namespaces.`;

await runCli({
  name: 'ztunnel',
  usage: USAGE,
  schema: ztunnelSchema,
  main: async (config) => {
    if (!config.nodeName)
      throw new MeshError('ZT_ERR_CONFIG', 'no node name: give --node-name NODE (or NODE_NAME)');
    const logger = createLogger({ component: 'ztunnel', level: config.logLevel as LevelWithSilent });
    const zt = new Ztunnel(config, { logger });
    await zt.start();
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'ztunnel received a signal; draining');
      void zt.shutdown().then((r) => {
        process.exitCode = 0;
        if (r.forced) logger.warn({ remaining: r.remaining }, 'drain deadline passed; closed the rest');
        setTimeout(() => process.exit(), 50).unref();
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    await new Promise<void>(() => {});
  },
});
