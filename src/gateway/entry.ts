import type { LevelWithSilent } from 'pino';
import { runCli } from '../common/cli.js';
import { ACCESS_LOG_BATCH_MS } from '../common/log-batch.js';
import { createLogger } from '../common/logger.js';
import { L7_MEMORY_TRIM_MS, MemoryTrim } from '../common/memory-trim.js';
import { gatewaySchema } from './config.js';
import { IngressGateway } from './app.js';

const USAGE = `Usage: gateway --name DEPLOYMENT --namespace NS [options]

gateway is an ingress gateway: of a Gateway API Gateway of class istio (deployment <gateway>-istio),
routing with the HTTPRoutes attached to it, or Istio's istio-ingressgateway for classic
networking.istio.io Gateways, routing with the VirtualServices bound through gateways. The L7 engine
behind HTTP and HTTPS listeners, one per listener (server) port, and HBONE to the mesh pods (or their
waypoint, with istio.io/ingress-use-waypoint). Configuration from istiod over delta xDS
(meshlite.l7.ProxyConfig <ns>/<name>); its mesh certificate from istiod's CA (--token-file); the
HTTPS listeners' certificates from istiod's mTLS port (--secure-xds-address). The options are the
waypoint's (--hbone-port is not used) and --secure-xds-address.`;

await runCli({
  name: 'gateway',
  usage: USAGE,
  schema: gatewaySchema,
  main: async (config) => {
    // A line per request in the access log: written in batches under load, as the waypoint's.
    const logger = createLogger({
      component: 'gateway',
      level: config.logLevel as LevelWithSilent,
      batchMs: ACCESS_LOG_BATCH_MS,
    });
    const gw = new IngressGateway(config, { logger });
    await gw.start();
    // Freed memory back to the kernel after a burst, as ztunnel does (docs/runtime.md).
    new MemoryTrim(L7_MEMORY_TRIM_MS, logger.child({ part: 'memory' })).start();
    const stop = (signal: string): void => {
      logger.info({ signal }, 'gateway stopping');
      void gw.stop().then(() => setTimeout(() => process.exit(0), 50));
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    await new Promise<void>(() => {});
  },
});
process.exit(process.exitCode ?? 0);
