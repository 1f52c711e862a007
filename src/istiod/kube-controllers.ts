/**
 * istiod's work on a cluster besides xDS and the CA: the injection webhook (every replica serves it)
 * and the controllers that write (waypoint and ingress gateway Deployments, status of rejected objects
 * and routes, the webhook's caBundle, the root ConfigMaps), which run only in the replica holding the
 * leader Lease (or in this one when leader election is off). Loaded only in Kubernetes mode.
 */
import { hostname } from 'node:os';
import type { Logger } from '../common/logger.js';
import type { Istiod } from './app.js';
import type { CaRuntime } from './ca-setup.js';
import { loadKubeConfig } from './config/kube-client.js';
import type { ConfigSource } from './config/source.js';
import { CaBundlePatcher } from './inject/ca-bundle-patcher.js';
import { InjectionWebhook } from './inject/webhook-server.js';
import { KubeGatewayController } from './kube-waypoint-controller.js';
import { INGRESS_PROFILE, WAYPOINT_PROFILE } from './kube-waypoint-objects.js';
import { listenerRefs } from './l7/gateway-configs.js';
import { KubeRouteStatusWriter } from './kube-route-status-writer.js';
import { KubeStatusWriter } from './kube-status-writer.js';
import { LeaderElector } from './leader-election.js';
import type { IstiodConfig } from './options.js';

interface Stoppable {
  stop(): Promise<void>;
}

export interface ClusterControllers {
  webhook?: InjectionWebhook;
  elector?: LeaderElector;
  stop(): Promise<void>;
}

export async function startClusterControllers(
  config: IstiodConfig,
  kubeconfig: string | undefined,
  source: ConfigSource,
  istiod: Istiod,
  ca: CaRuntime | undefined,
  logger: Logger,
): Promise<ClusterControllers> {
  const kubeConfig = loadKubeConfig(kubeconfig);
  const gatewaySettings = {
    xdsAddress: config.waypointXdsAddress,
    trustDomain: config.trustDomain,
    clusterId: config.clusterId,
  };
  // The writers, made fresh each time this replica becomes the leader.
  const writers = (): Stoppable[] => {
    const out: Stoppable[] = [];
    for (const [image, profile, resources] of [
      [config.waypointImage, WAYPOINT_PROFILE, config.waypointResources],
      [config.gatewayImage, INGRESS_PROFILE, undefined],
    ] as const) {
      if (!image) continue;
      const c = new KubeGatewayController({
        kubeConfig,
        profile,
        image,
        ...(resources ? { resources: JSON.parse(resources) as Record<string, Record<string, string>> } : {}),
        ...gatewaySettings,
        refs: () => listenerRefs(istiod.store),
        logger: logger.child({ part: `${profile.className}-controller` }),
      });
      c.start();
      out.push(c);
    }
    const status = new KubeStatusWriter(kubeConfig, source, logger.child({ part: 'status' }));
    status.start();
    const routes = new KubeRouteStatusWriter(kubeConfig, source, logger.child({ part: 'route-status' }));
    routes.start();
    out.push(status, routes);
    if (ca && config.injectionImage) {
      const patcher = new CaBundlePatcher({
        kubeConfig,
        ca: ca.ca,
        name: config.webhookConfigName,
        logger: logger.child({ part: 'webhook-ca-bundle' }),
      });
      patcher.start();
      out.push(patcher);
    }
    if (ca) {
      ca.start(istiod);
      out.push({ stop: () => ca.stopPublishing() });
    }
    return out;
  };

  let webhook: InjectionWebhook | undefined;
  if (ca && config.injectionImage) {
    webhook = new InjectionWebhook({
      ca: ca.ca,
      settings: {
        image: config.injectionImage,
        ...gatewaySettings,
        resources: JSON.parse(config.injectionResources) as Record<string, Record<string, string>>,
      },
      host: config.webhookAddress.host,
      port: config.webhookAddress.port,
      logger: logger.child({ part: 'injection' }),
      registry: istiod.registry,
    });
    await webhook.start();
  }

  let running: Stoppable[] = [];
  const stopWriters = async () => {
    const r = running;
    running = [];
    for (const s of r) await s.stop();
  };
  let elector: LeaderElector | undefined;
  if (config.leaderElection) {
    elector = new LeaderElector({
      kubeConfig,
      namespace: process.env.POD_NAMESPACE || config.rootNamespace,
      name: config.leaseName,
      identity: process.env.POD_NAME || `${hostname()}-${process.pid}`,
      logger: logger.child({ part: 'leader-election' }),
      onStartedLeading: () => {
        running = writers();
      },
      onStoppedLeading: stopWriters,
    });
    elector.start();
  } else running = writers();

  return {
    webhook,
    elector,
    async stop() {
      if (elector) await elector.stop();
      else await stopWriters();
      await webhook?.stop();
    },
  };
}
