/**
 * On a cluster, istiod writes route status (l7/route-status.ts) on HTTPRoutes and GRPCRoutes through
 * the status subresource, as Istio's controller does: per Service or ingress Gateway parentRef,
 * `Accepted` and `ResolvedRefs`. Recomputed when a route, a Service or a Gateway changes, once the source has synced; the object
 * is read fresh before a write and written only when its status changes. Writes are serialized; a
 * failed one is logged with the object and retried on the next change.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { errorMessage } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { kindInfoFor } from './config/kinds.js';
import { kubeError, statusOf } from './config/kube-client.js';
import type { ConfigSource } from './config/source.js';
import type { ConfigObject } from './config/types.js';
import {
  isRouteKind,
  routeStatus,
  routeWorld,
  statusTime,
  type RouteObject,
  type RouteWorld,
} from './l7/route-status.js';

export class KubeRouteStatusWriter {
  private readonly api: CustomObjectsApi;
  private readonly log: Logger;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;

  constructor(
    kc: KubeConfig,
    private readonly source: ConfigSource,
    logger?: Logger,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.log = logger ?? silentLogger();
  }

  start(): void {
    const relevant = (o: ConfigObject) =>
      o.kind === 'Service' || o.kind === 'Gateway' || o.kind === 'ReferenceGrant' || isRouteKind(o.kind);
    this.unsubscribe = this.source.subscribe({
      event: (e) => {
        if (relevant(e.object)) this.kick();
      },
      synced: () => this.kick(),
    });
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await this.running;
  }

  /** Resolves when the writes for the changes seen so far are done (tests). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.stopped || !this.source.synced) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.sync().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async sync(): Promise<void> {
    const objects = this.source.snapshot();
    const world = routeWorld(objects);
    for (const o of objects) {
      if (this.stopped) return;
      if (!isRouteKind(o.kind) || !routeStatus(o, world)) continue;
      const key = `${o.kind}/${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
      try {
        await this.write(o, world);
      } catch (err) {
        this.log.warn({ object: key, err: errorMessage(err) }, 'could not write the status of a route');
      }
    }
  }

  /** Reads the route fresh (its status and generation now) and writes the status if it changes. */
  private async write(route: ConfigObject, world: RouteWorld): Promise<void> {
    const info = kindInfoFor(route.apiVersion, route.kind)!;
    const namespace = route.metadata.namespace ?? 'default';
    const name = route.metadata.name;
    const what = `${route.kind} ${namespace}/${name}`;
    const ref = { group: info.group, version: info.versions[0]!, namespace, plural: info.plural, name };
    let obj: RouteObject & Record<string, unknown>;
    try {
      obj = (await this.api.getNamespacedCustomObject(ref)) as RouteObject & Record<string, unknown>;
    } catch (err) {
      if (statusOf(err) === 404) return; // deleted meanwhile
      throw kubeError(err, `GET ${what}`);
    }
    const status = routeStatus(obj, world, statusTime());
    if (!status) return;
    try {
      await this.api.replaceNamespacedCustomObjectStatus({ ...ref, body: { ...obj, status } });
    } catch (err) {
      throw kubeError(err, `PUT ${what}/status`);
    }
    this.log.info({ object: `${route.kind}/${namespace}/${name}` }, 'wrote the status of a route');
  }
}
