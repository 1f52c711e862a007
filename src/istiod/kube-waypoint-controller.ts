/**
 * istiod's gateway deployment controller on a cluster, one per class (kube-waypoint-objects.ts'
 * profiles): follows Gateways (informer), and for each of class `istio-waypoint` (waypoints) or
 * `istio` (ingress gateways) server-side applies (field manager istio.io/gateway-controller, forced) its
 * ServiceAccount, Deployment and Service, owned by the Gateway (so the garbage collector removes them
 * with it), never touching a same-named object it did not create; then writes the Gateway's status
 * (addresses, Accepted, Programmed). One reconcile per Gateway at a time; failures retry with backoff.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { isDeepStrictEqual } from 'node:util';
import { errorMessage } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/logger.js';
import { kubeError, statusOf } from './config/kube-client.js';
import { KubeInformer, type RawObject } from './config/kube-informer.js';
import type { Gateway, HTTPRoute } from './config/types.js';
import { INGRESS_CLASS, listenerStatuses, type ListenerRefs } from './l7/gateway-configs.js';
import {
  GATEWAY_FIELD_MANAGER,
  gatewayObjects,
  gatewayStatus,
  MANAGED_LABEL,
  notManaged,
  WAYPOINT_PROFILE,
  type GatewayClassProfile,
  type GatewayObject,
  type KubeObj,
  type ServiceAddress,
  type WaypointSettings,
} from './kube-waypoint-objects.js';

export interface KubeWaypointControllerOptions extends WaypointSettings {
  kubeConfig: KubeConfig;
  logger?: Logger;
  backoffMs?: { initial: number; max: number };
  /** The class handled; default istio-waypoint. */
  profile?: GatewayClassProfile;
  /**
   * Gateways not yet Programmed (a load balancer still assigning its address) are reconciled again
   * this often; default 10 s.
   */
  resyncMs?: number;
  /** Ingress gateways: the Secrets and ReferenceGrants HTTPS listeners resolve against (istiod's store). */
  refs?: () => ListenerRefs;
}

const GROUP = 'gateway.networking.k8s.io';

interface KeyState {
  running: boolean;
  again: boolean;
  failures: number;
  retry?: NodeJS.Timeout;
}

export class KubeGatewayController {
  private readonly informer: KubeInformer;
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly log: Logger;
  private readonly gateways = new Map<string, GatewayObject>();
  private readonly keys = new Map<string, KeyState>();
  private readonly idle = new Set<() => void>();
  private stopped = false;
  private readonly profile: GatewayClassProfile;
  private resync: NodeJS.Timeout | undefined;
  /** Ingress gateways: the HTTPRoutes, for each listener's attachedRoutes. */
  private readonly routes = new Map<string, HTTPRoute>();
  private readonly routeInformer: KubeInformer | undefined;

  constructor(private readonly o: KubeWaypointControllerOptions) {
    this.profile = o.profile ?? WAYPOINT_PROFILE;
    this.log = o.logger ?? silentLogger();
    this.objects = KubernetesObjectApi.makeApiClient(o.kubeConfig);
    this.core = o.kubeConfig.makeApiClient(CoreV1Api);
    this.custom = o.kubeConfig.makeApiClient(CustomObjectsApi);
    this.informer = this.watch('gateways', 'Gateways', (type, obj) => this.onEvent(type, obj));
    if (this.profile.className === INGRESS_CLASS)
      this.routeInformer = this.watch('httproutes', 'HTTPRoutes', (type, obj) => this.onRoute(type, obj));
  }

  /** An informer on a Gateway API resource of every namespace; failures are logged and retried. */
  private watch(
    plural: string,
    what: string,
    event: (type: 'ADDED' | 'MODIFIED' | 'DELETED', obj: RawObject) => void,
  ): KubeInformer {
    return new KubeInformer(
      this.o.kubeConfig,
      `/apis/${GROUP}/v1/${plural}`,
      {
        listed: () => undefined,
        event,
        error: (err, retryInMs) =>
          this.log.warn(
            { err: errorMessage(err), retryInMs },
            `${this.profile.className} gateway controller: watching ${what} failed`,
          ),
      },
      { backoffMs: this.o.backoffMs ?? { initial: 500, max: 30_000 }, idleTimeoutMs: 60_000 },
    );
  }

  /** A route came, changed or went: the Gateways it names (now or before) count their routes again. */
  private onRoute(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: RawObject): void {
    const r = raw as unknown as HTTPRoute;
    const key = `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
    const named = (x: HTTPRoute | undefined): string[] =>
      (x?.spec.parentRefs ?? []).map(
        (p) => `${(p as { namespace?: string }).namespace ?? x!.metadata.namespace ?? 'default'}/${p.name}`,
      );
    const touched = new Set([...named(this.routes.get(key)), ...named(r)]);
    if (type === 'DELETED') this.routes.delete(key);
    else this.routes.set(key, r);
    for (const gwKey of touched) {
      const gw = this.gateways.get(gwKey);
      if (gw && !notManaged(gw, this.profile)) this.enqueue(gwKey);
    }
  }

  start(): void {
    this.informer.start();
    this.routeInformer?.start();
    this.resync = setInterval(() => {
      for (const [key, gw] of this.gateways) {
        const programmed = gw.status?.conditions?.find((c) => c.type === 'Programmed')?.status === 'True';
        if (!programmed && !notManaged(gw, this.profile)) this.enqueue(key);
      }
    }, this.o.resyncMs ?? 10_000);
    this.resync.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resync);
    for (const k of this.keys.values()) clearTimeout(k.retry);
    await this.informer.stop();
    await this.routeInformer?.stop();
  }

  /** Resolves when no reconcile is running or queued (tests). */
  whenIdle(): Promise<void> {
    if (![...this.keys.values()].some((k) => k.running || k.retry)) return Promise.resolve();
    return new Promise((resolve) => this.idle.add(resolve));
  }

  private onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: RawObject): void {
    const gw = raw as unknown as GatewayObject;
    const key = `${gw.metadata.namespace}/${gw.metadata.name}`;
    if (type === 'DELETED') {
      this.gateways.delete(key); // its objects go with it: they are owned by it
      return;
    }
    this.gateways.set(key, gw);
    if (notManaged(gw, this.profile)) return;
    this.enqueue(key);
  }

  private enqueue(key: string): void {
    let st = this.keys.get(key);
    if (!st) this.keys.set(key, (st = { running: false, again: false, failures: 0 }));
    if (st.running) {
      st.again = true;
      return;
    }
    clearTimeout(st.retry);
    st.retry = undefined;
    st.running = true;
    void this.run(key, st);
  }

  private async run(key: string, st: KeyState): Promise<void> {
    try {
      const gw = this.gateways.get(key);
      if (gw && !notManaged(gw, this.profile) && !this.stopped) await this.reconcile(gw);
      st.failures = 0;
    } catch (err) {
      st.failures++;
      const b = this.o.backoffMs ?? { initial: 500, max: 30_000 };
      const delay = Math.min(b.initial * 2 ** (st.failures - 1), b.max);
      this.log.warn(
        { gateway: key, err: errorMessage(err), retryInMs: delay },
        `${this.profile.className} gateway controller: reconcile failed`,
      );
      if (!this.stopped) {
        st.retry = setTimeout(() => {
          st.retry = undefined;
          this.enqueue(key);
        }, delay);
        st.retry.unref();
      }
    } finally {
      st.running = false;
      if (st.again && !this.stopped) {
        st.again = false;
        this.enqueue(key);
      } else if (![...this.keys.values()].some((k) => k.running || k.retry)) {
        for (const wake of this.idle) wake();
        this.idle.clear();
      }
    }
  }

  /** Applies the Gateway's objects and writes its status. */
  async reconcile(gw: GatewayObject): Promise<void> {
    const { namespace } = gw.metadata;
    const name = this.profile.objectName(gw.metadata.name);
    let conflict: string | undefined;
    for (const want of gatewayObjects(gw, this.profile, this.o)) {
      const existing = await this.read(want);
      if (existing && existing.metadata?.labels?.[MANAGED_LABEL] === undefined) {
        conflict = `${want.kind} ${namespace}/${want.metadata.name} exists and was not created by istiod; rename it or the Gateway`;
        break;
      }
      try {
        await this.objects.patch(
          want,
          undefined,
          undefined,
          GATEWAY_FIELD_MANAGER,
          true,
          PatchStrategy.ServerSideApply,
        );
      } catch (err) {
        throw kubeError(err, `apply ${want.kind} ${namespace}/${want.metadata.name}`);
      }
    }
    let address: ServiceAddress | undefined;
    if (!conflict) {
      const svc = await this.core.readNamespacedService({ name, namespace }).catch((err: unknown) => {
        throw kubeError(err, `GET Service ${namespace}/${name}`);
      });
      const ip = svc.spec?.clusterIP;
      address = {
        clusterIp: ip && ip !== 'None' ? ip : undefined,
        type: svc.spec?.type,
        ingress: (svc.status?.loadBalancer?.ingress ?? []).map((i) => ({ ip: i.ip, hostname: i.hostname })),
      };
    }
    const status = gatewayStatus(gw, this.profile, address, { domainSuffix: this.o.domainSuffix, conflict });
    if (this.routeInformer) {
      const programmed = status.conditions?.find((c) => c.type === 'Programmed')?.status === 'True';
      status.listeners = listenerStatuses(
        gw as unknown as Gateway,
        [...this.routes.values()],
        programmed,
        gw.status?.listeners,
        this.o.refs?.() ?? { secret: () => undefined },
      );
    }
    await this.writeStatus(gw, status);
    this.log.info(
      { gateway: `${namespace}/${gw.metadata.name}`, address, conflict },
      `${this.profile.className} gateway controller: reconciled`,
    );
  }

  private async read(o: KubeObj): Promise<KubernetesObject | undefined> {
    try {
      return await this.objects.read(o as KubernetesObject & { metadata: { name: string } });
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw kubeError(err, `GET ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`);
    }
  }

  /** Replaces the status subresource when it differs (a conflict retries with the newer object). */
  private async writeStatus(gw: GatewayObject, status: NonNullable<GatewayObject['status']>): Promise<void> {
    const conds = (cs: Array<{ lastTransitionTime?: string }> | undefined) =>
      (cs ?? []).map(({ lastTransitionTime: _t, ...c }) => c);
    const same = (a: GatewayObject['status']) =>
      isDeepStrictEqual(a?.addresses ?? [], status.addresses) &&
      isDeepStrictEqual(conds(a?.conditions), conds(status.conditions)) &&
      isDeepStrictEqual(
        (a?.listeners ?? []).map((l) => ({ ...l, conditions: conds(l.conditions) })),
        (status.listeners ?? []).map((l) => ({ ...l, conditions: conds(l.conditions) })),
      );
    if (same(gw.status)) return;
    const { name, namespace } = gw.metadata;
    const version = (gw.apiVersion ?? `${GROUP}/v1`).split('/')[1]!;
    try {
      await this.custom.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version,
        namespace,
        plural: 'gateways',
        name,
        body: { ...gw, status },
      });
    } catch (err) {
      throw kubeError(err, `PUT Gateway ${namespace}/${name}/status`);
    }
  }
}

/** The waypoint deployment controller: Gateways of class istio-waypoint. */
export class KubeWaypointController extends KubeGatewayController {
  constructor(o: Omit<KubeWaypointControllerOptions, 'profile'>) {
    super({ ...o, profile: WAYPOINT_PROFILE });
  }
}
