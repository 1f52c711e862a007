import type { LevelWithSilent } from 'pino';
import { runCli } from '../common/cli.js';
import { ACCESS_LOG_BATCH_MS } from '../common/log-batch.js';
import { createLogger } from '../common/logger.js';
import { L7_MEMORY_TRIM_MS, MemoryTrim } from '../common/memory-trim.js';
import { Sidecar } from './app.js';
import { sidecarSchema } from './config.js';

const USAGE = `Usage: sidecar --pod-name POD --namespace NS --pod-ip IP [options]

sidecar is the per-pod L7 proxy of sidecar mode (the istio-proxy container), run inside the pod's
network namespace whose rules (istio-init's) send outbound TCP to 15001 and inbound TCP to 15006.
Outbound it applies client-side routing (VirtualService, HTTPRoute, DestinationRule) and speaks HBONE
with the pod's identity; inbound (HBONE on 15008, plaintext on 15006) it reports telemetry as the
destination. Configuration from istiod over delta xDS (meshlite.l7.ProxyConfig <ns>/~sidecar-outbound
and <ns>/<pod>~inbound); certificate from istiod's CA (--token-file).`;

await runCli({
  name: 'sidecar',
  usage: USAGE,
  schema: sidecarSchema,
  main: async (config) => {
    // A line per request in the access log: written in batches under load, as the waypoint's.
    const logger = createLogger({
      component: 'sidecar',
      level: config.logLevel as LevelWithSilent,
      batchMs: ACCESS_LOG_BATCH_MS,
    });
    if (!config.podName || !config.podIp) throw new Error('--pod-name and --pod-ip are required');
    const sc = new Sidecar(config, { logger });
    await sc.start();
    // Freed memory back to the kernel after a burst, as ztunnel does (docs/runtime.md).
    new MemoryTrim(L7_MEMORY_TRIM_MS, logger.child({ part: 'memory' })).start();
    const stop = (signal: string): void => {
      logger.info({ signal }, 'sidecar stopping');
      void sc.stop().then(() => setTimeout(() => process.exit(0), 50));
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    await new Promise<void>(() => {});
  },
});
process.exit(process.exitCode ?? 0);
