import type * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import type { Logger } from '../common/logger.js';
import {
  IstiodCa,
  CaService,
  CaServingCertificate,
  LocalTokenAuthenticator,
  type TokenAuthenticator,
} from './ca/index.js';
import type { RootConfigMapPublisher } from './ca/root-configmap.js';
import type { KubeConfig } from './config/kube-client.js';
import type { IstiodConfig } from './options.js';
import type { Istiod } from './app.js';

export interface CaRuntime {
  ca: IstiodCa;
  /** Registers CreateCertificate on a gRPC server (15010 and 15012). */
  register(server: grpc.Server, istiod: Istiod): void;
  /** TLS for 15012: istiod's own serving certificate from this CA, client certificates optional. */
  serverCredentials(): grpc.ServerCredentials;
  /**
   * Call after `istiod.start()`: with a Kubernetes source, publishes the root bundle as the
   * `istio-ca-root-cert` ConfigMap in every namespace of `istiod.store` (a no-op otherwise).
   */
  start(istiod: Istiod): void;
  /** Stops publishing the ConfigMaps (leadership lost); `start` may run again. */
  stopPublishing(): Promise<void>;
  close(): void;
}

/**
 * istiod's CA, from its flags: self-signed root kept in --ca-dir (or a plugged-in cacerts dir), callers
 * authenticated by local node tokens (--node-token-file) and/or Kubernetes TokenReview (when reading
 * a cluster), node checks answered by the ambient index, root bundle published to a file and, when
 * reading a cluster, as the `istio-ca-root-cert` ConfigMap in every namespace.
 */
export async function setupCa(config: IstiodConfig, logger: Logger, kubeconfig?: string): Promise<CaRuntime> {
  const log = logger.child({ part: 'ca' });
  const authenticators: TokenAuthenticator[] = [];
  if (config.nodeTokenFile) authenticators.push(await LocalTokenAuthenticator.load(config.nodeTokenFile));
  let kubeConfig: KubeConfig | undefined;
  let podStore: Istiod['store'] | undefined;
  let Publisher: typeof RootConfigMapPublisher | undefined;
  if (config.inCluster || kubeconfig) {
    // Loaded only in Kubernetes mode: @kubernetes/client-node costs ~0.6 s and ~60 MB to load.
    const [{ loadKubeConfig }, { KubeTokenReviewAuthenticator }, rootConfigMap] = await Promise.all([
      import('./config/kube-client.js'),
      import('./ca/kube-token-review.js'),
      import('./ca/root-configmap.js'),
    ]);
    kubeConfig = loadKubeConfig(kubeconfig);
    Publisher = rootConfigMap.RootConfigMapPublisher;
    authenticators.push(
      new KubeTokenReviewAuthenticator({
        kubeConfig,
        trustDomain: config.trustDomain,
        // Before 1.30 a pod-bound token names the pod, not its node: the node comes from the Pod.
        nodeOfPod: (namespace, pod) => podStore?.get('Pod', namespace, pod)?.spec.nodeName,
      }),
    );
  }
  const open = () =>
    IstiodCa.open({
      trustDomain: config.trustDomain,
      dataDir: config.caDir,
      pluggedDir: config.cacertsDir || undefined,
      logger: log,
    });
  let ca: IstiodCa;
  if (kubeConfig && !config.cacertsDir && config.caSecret) {
    // The self-signed root lives in a Secret, so a replaced or second istiod keeps signing with it.
    const { restoreCaFromSecret, storeCaInSecret } = await import('./ca/kube-ca-secret.js');
    const ref = {
      kubeConfig,
      namespace: process.env.POD_NAMESPACE || config.rootNamespace,
      name: config.caSecret,
    };
    const restored = await restoreCaFromSecret(ref, config.caDir);
    ca = await open();
    if (!restored && !(await storeCaInSecret(ref, config.caDir))) {
      await restoreCaFromSecret(ref, config.caDir); // another istiod stored its root first: use that one
      ca = await open();
    }
    log.info({ secret: `${ref.namespace}/${ref.name}`, restored }, 'CA: kept in a Secret');
  } else ca = await open();
  if (authenticators.length === 0) {
    log.warn(
      'no caller authentication configured (--node-token-file, or a Kubernetes source): only callers with a mesh certificate (15012) can get certificates',
    );
  }
  const rootFile = config.rootCertFile || join(config.caDir, 'root-cert.pem');
  await ca.publishRoots(rootFile);
  const unsubscribe = ca.onRootsChange(() => void ca.publishRoots(rootFile));
  let service: CaService | undefined;
  let publisher: RootConfigMapPublisher | undefined;
  let unfollow: (() => void) | undefined;
  const serving = new CaServingCertificate(ca);
  log.info({ mode: ca.mode, trustDomain: ca.trustDomain, rootFile }, 'certificate authority ready');
  return {
    ca,
    register(server, istiod) {
      podStore = istiod.store;
      service ??= new CaService({
        ca,
        authenticators,
        nodes: istiod.nodeIdentities,
        defaultValidityMs: config.workloadCertTtl,
        maxValidityMs: config.maxWorkloadCertTtl,
        logger: log,
        registry: istiod.registry,
      });
      service.register(server);
    },
    serverCredentials: () => serving.serverCredentials(),
    start(istiod) {
      if (!kubeConfig || !Publisher || publisher) return;
      publisher = new Publisher({
        kubeConfig,
        ca,
        logger: log.child({ part: 'root-configmap' }),
        registry: istiod.registry,
      });
      unfollow = publisher.follow(istiod.store);
      publisher.start();
    },
    async stopPublishing() {
      unfollow?.();
      unfollow = undefined;
      const p = publisher;
      publisher = undefined;
      await p?.stop();
    },
    close() {
      unsubscribe();
      unfollow?.();
      void publisher?.stop();
      serving.close();
    },
  };
}
