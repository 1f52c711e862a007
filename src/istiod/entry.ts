import { runCli } from '../common/cli.js';
import { createLogger, type Logger } from '../common/logger.js';
import { Istiod } from './app.js';
import { DirectorySource } from './config/directory-source.js';
import type { ConfigSource } from './config/source.js';
import { istiodSchema, sourceChoice, type IstiodConfig } from './options.js';
import { setupCa } from './ca-setup.js';

const USAGE = `Usage: istiod [options]

istiod is the control plane: it reads Istio-style configuration (a directory of YAML files, or the
Kubernetes API), works out which workloads are in the ambient mesh and which policies apply, and pushes
it to the node proxies over delta xDS. It is also the certificate authority that signs the workloads'
SPIFFE certificates (on the xDS ports). Monitoring: /metrics, /ready, /debug on the monitoring address.`;

/** In a cluster: the controller that deploys waypoints for Gateways of class istio-waypoint. */
async function startWaypointController(config: IstiodConfig, kubeconfig: string | undefined, logger: Logger) {
  const [{ KubeWaypointController }, { loadKubeConfig }] = await Promise.all([
    import('./kube-waypoint-controller.js'),
    import('./config/kube-client.js'),
  ]);
  const controller = new KubeWaypointController({
    kubeConfig: loadKubeConfig(kubeconfig),
    image: config.waypointImage,
    resources: JSON.parse(config.waypointResources) as Record<string, Record<string, string>>,
    xdsAddress: config.waypointXdsAddress,
    trustDomain: config.trustDomain,
    clusterId: config.clusterId,
    logger: logger.child({ part: 'waypoint-controller' }),
  });
  controller.start();
  return controller;
}

/** In a cluster: rejected Istio objects get condition Accepted=False in their status. */
async function startStatusWriter(kubeconfig: string | undefined, source: ConfigSource, logger: Logger) {
  const [{ KubeStatusWriter }, { loadKubeConfig }] = await Promise.all([
    import('./kube-status-writer.js'),
    import('./config/kube-client.js'),
  ]);
  const writer = new KubeStatusWriter(loadKubeConfig(kubeconfig), source, logger.child({ part: 'status' }));
  writer.start();
  return writer;
}

/** In a cluster: HTTPRoutes and GRPCRoutes attached to Services get Istio's route status. */
async function startRouteStatusWriter(kubeconfig: string | undefined, source: ConfigSource, logger: Logger) {
  const [{ KubeRouteStatusWriter }, { loadKubeConfig }] = await Promise.all([
    import('./kube-route-status-writer.js'),
    import('./config/kube-client.js'),
  ]);
  const writer = new KubeRouteStatusWriter(
    loadKubeConfig(kubeconfig),
    source,
    logger.child({ part: 'route-status' }),
  );
  writer.start();
  return writer;
}

async function main(config: IstiodConfig): Promise<number> {
  const logger = createLogger({ component: 'istiod', level: config.logLevel });
  const choice = sourceChoice(config);
  // The Kubernetes source (and @kubernetes/client-node, ~0.6 s and ~60 MB to load) only when used.
  const source =
    choice.kind === 'directory'
      ? new DirectorySource({ dir: choice.dir, logger })
      : new (await import('./config/kubernetes-source.js')).KubernetesSource({
          kubeconfig: choice.kubeconfig,
          logger,
        });
  const ca = config.ca
    ? await setupCa(config, logger, choice.kind === 'kubernetes' ? choice.kubeconfig : undefined)
    : undefined;
  const istiod = new Istiod({
    source,
    grpcServices: ca ? [(server, i) => ca.register(server, i)] : [],
    secure: ca ? { address: config.secureXdsAddress, credentials: () => ca.serverCredentials() } : undefined,
    xdsAddress: config.xdsAddress,
    monitoringAddress: config.monitoringAddress,
    trustDomain: config.trustDomain,
    clusterId: config.clusterId,
    rootNamespace: config.rootNamespace,
    traceSampling: config.traceSampling,
    debounce: { quietMs: config.debounceAfter, maxMs: config.debounceMax },
    logger,
  });
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  try {
    await istiod.start();
  } catch (err) {
    await istiod.stop();
    ca?.close();
    throw err;
  }
  ca?.start(istiod);
  const waypoints =
    choice.kind === 'kubernetes' && config.waypointImage
      ? await startWaypointController(config, choice.kubeconfig, logger)
      : undefined;
  const statuses =
    choice.kind === 'kubernetes' ? await startStatusWriter(choice.kubeconfig, source, logger) : undefined;
  const routeStatuses =
    choice.kind === 'kubernetes'
      ? await startRouteStatusWriter(choice.kubeconfig, source, logger)
      : undefined;
  logger.info({ source: source.name, ports: istiod.ports }, 'istiod started');
  const signal = await stopped;
  logger.info({ signal }, 'istiod received a signal; stopping');
  await waypoints?.stop();
  await statuses?.stop();
  await routeStatuses?.stop();
  await istiod.stop();
  ca?.close();
  logger.flush();
  // Everything is closed; should a stray handle keep the loop alive, do not hang the shutdown on it.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}

await runCli({ name: 'istiod', usage: USAGE, schema: istiodSchema, main });
