import type { LevelWithSilent } from 'pino';
import { runCli } from '../common/cli.js';
import { createLogger } from '../common/logger.js';
import { L7_MEMORY_TRIM_MS, MemoryTrim } from '../common/memory-trim.js';
import { Waypoint } from './app.js';
import { WAYPOINT_LOG_BATCH_MS, waypointSchema } from './config.js';

const USAGE = `Usage: waypoint --name GATEWAY --namespace NS [options]

waypoint is the L7 proxy of a namespace (or of services) in the ambient mesh: ztunnels send it the
traffic of the services bound to it over HBONE (port 15008); it applies HTTP routing, retries,
timeouts, fault injection, mirroring and header changes from HTTPRoute / VirtualService /
DestinationRule, reports Istio's HTTP metrics, and re-wraps each request in HBONE to the chosen pod.
Its configuration comes from istiod over delta xDS (resource meshlite.l7.ProxyConfig <ns>/<name>);
its certificate from istiod's CA (--token-file).`;

await runCli({
  name: 'waypoint',
  usage: USAGE,
  schema: waypointSchema,
  main: async (config) => {
    // The access log (a line per request) is written in batches under load: a write(2) per line was
    // a quarter of the waypoint's CPU per request at 1000 req/s on loopback (bench/README.md).
    const logger = createLogger({
      component: 'waypoint',
      level: config.logLevel as LevelWithSilent,
      batchMs: WAYPOINT_LOG_BATCH_MS,
    });
    const wp = new Waypoint(config, { logger });
    await wp.start();
    // Freed memory back to the kernel after a burst, as ztunnel does (docs/runtime.md).
    new MemoryTrim(L7_MEMORY_TRIM_MS, logger.child({ part: 'memory' })).start();
    const stop = (signal: string): void => {
      logger.info({ signal }, 'waypoint stopping');
      void wp.stop().then(() => setTimeout(() => process.exit(0), 50));
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    await new Promise<void>(() => {});
  },
});
process.exit(process.exitCode ?? 0);
