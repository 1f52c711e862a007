import { runCli } from '../common/cli.js';
import { createLogger } from '../common/logger.js';
import { Istiod } from './app.js';
import { DirectorySource } from './config/directory-source.js';
import { istiodSchema, sourceChoice, type IstiodConfig } from './options.js';
import { setupCa } from './ca-setup.js';

const USAGE = `Usage: istiod [options]

istiod is the control plane: it reads Istio-style configuration (a directory of YAML files, or the
Kubernetes API), works out which workloads are in the ambient mesh and which policies apply, and pushes
it to the node proxies over delta xDS. It is also the certificate authority that signs the workloads'
SPIFFE certificates (on the xDS ports). Monitoring: /metrics, /ready, /debug on the monitoring address.`;

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
  // On a cluster: the webhook, and the writing controllers (on the leader only); else the root file.
  const cluster =
    choice.kind === 'kubernetes'
      ? await (
          await import('./kube-controllers.js')
        ).startClusterControllers(config, choice.kubeconfig, source, istiod, ca, logger)
      : undefined;
  if (!cluster) ca?.start(istiod);
  logger.info(
    { source: source.name, ports: { ...istiod.ports, webhook: cluster?.webhook?.port } },
    'istiod started',
  );
  const signal = await stopped;
  logger.info({ signal }, 'istiod received a signal; stopping');
  await cluster?.stop();
  await istiod.stop();
  ca?.close();
  logger.flush();
  // Everything is closed; should a stray handle keep the loop alive, do not hang the shutdown on it.
  setTimeout(() => process.exit(0), 1000).unref();
  return 0;
}

await runCli({ name: 'istiod', usage: USAGE, schema: istiodSchema, main });
