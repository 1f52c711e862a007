/**
 * RootConfigMapPublisher: Kubernetes mode's published trust bundle. Like Istio, istiod keeps a ConfigMap
 * `istio-ca-root-cert` (key `root-cert.pem`, label `istio.io/config: "true"`) in every namespace: it is
 * created when a namespace appears, rewritten when the CA's roots change (both roots during a
 * rotation's overlap), and put back when someone edits or deletes it (on the namespace's next event or
 * the periodic check). Kubernetes' own system namespaces and terminating ones are skipped, as Istio does.
 *
 * One reconcile per namespace at a time, through @kubernetes/client-node's CoreV1Api: read; 404 → create;
 * different → replace with the read resourceVersion (a 409 or 404 re-reads once); equal → nothing. A
 * failure is logged with the namespace and the HTTP status, counted, and retried with backoff; it never
 * throws into istiod.
 */
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import { errorMessage } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { deadline, kubeError, requestOptions, statusOf, type KubeConfig } from '../config/kube-client.js';
import type { ConfigStore } from '../config/store.js';
import type { Namespace } from '../config/types.js';
import { ROOT_CONFIGMAP_NAME, type IstiodCa } from './istiod-ca.js';

/** The label Istio puts on the ConfigMaps it owns. */
export const ROOT_CONFIGMAP_LABEL = 'istio.io/config';
/** Namespaces Istio leaves alone (Kubernetes' own). */
export const DEFAULT_IGNORED_NAMESPACES: readonly string[] = [
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'local-path-storage',
];
const WRITES_METRIC = 'istiod_root_configmap_writes_total';

export interface RootConfigMapPublisherOptions {
  /** Where the API server is and istiod's own credentials for it. */
  kubeConfig: KubeConfig;
  ca: IstiodCa;
  logger?: Logger;
  /** Where `istiod_root_configmap_writes_total{result}` is registered; omit for no metric. */
  registry?: Registry;
  /** Every namespace is checked this often (puts back edited or deleted ConfigMaps). Default 60 s. */
  resyncMs?: number;
  /** Retry delays after a failure: first, and the cap. Default 500 ms and 30 s. */
  backoffMs?: { initial: number; max: number };
  /** Per request; default 10 s. */
  timeoutMs?: number;
  ignoredNamespaces?: readonly string[];
}

/** What one reconcile of a namespace did. */
export type RootConfigMapResult = 'created' | 'updated' | 'unchanged' | 'failed';

interface NamespaceState {
  queued: Promise<RootConfigMapResult> | undefined;
  running: Promise<RootConfigMapResult> | undefined;
  failures: number;
  retry: NodeJS.Timeout | undefined;
  /** The namespace went away while a reconcile ran: do not retry it. */
  forgotten: boolean;
}

export class RootConfigMapPublisher {
  private readonly opts: RootConfigMapPublisherOptions;
  private readonly log: Logger;
  private readonly writes: Counter<'result'> | undefined;
  private readonly api: CoreV1Api;
  private readonly ignored: ReadonlySet<string>;
  private readonly wanted = new Set<string>();
  private readonly states = new Map<string, NamespaceState>();
  private readonly abort = new AbortController();
  private readonly cleanups: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  constructor(opts: RootConfigMapPublisherOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger();
    this.api = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.ignored = new Set(opts.ignoredNamespaces ?? DEFAULT_IGNORED_NAMESPACES);
    const registry = opts.registry;
    this.writes = registry
      ? ((registry.getSingleMetric(WRITES_METRIC) as Counter<'result'> | undefined) ??
        new Counter({
          name: WRITES_METRIC,
          help: 'Writes of the istio-ca-root-cert ConfigMaps, by result (created, updated, conflict, error)',
          labelNames: ['result'],
          registers: [registry],
        }))
      : undefined;
  }

  /** Publishes into exactly these namespaces from now on: new ones at once (once started), gone ones forgotten. */
  namespaces(list: Iterable<string>): void {
    const next = new Set([...list].filter((ns) => !this.ignored.has(ns)));
    for (const ns of [...this.wanted]) if (!next.has(ns)) this.forget(ns);
    for (const ns of next) this.want(ns);
  }

  /** Follows the store's Namespace objects (add, change, delete); returns the function that detaches. */
  follow(store: ConfigStore): () => void {
    this.namespaces(
      store
        .list('Namespace')
        .filter((n) => !terminating(n))
        .map((n) => n.metadata.name),
    );
    const off = store.onChange((e) => {
      if (e.object.kind !== 'Namespace') return;
      const name = e.object.metadata.name;
      if (e.type === 'delete' || terminating(e.object) || this.ignored.has(name)) this.forget(name);
      else if (this.wanted.has(name)) {
        if (this.started) void this.syncNamespace(name);
      } else this.want(name);
    });
    this.cleanups.push(off);
    return off;
  }

  /** Syncs every namespace now, then on root changes and every `resyncMs`. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.cleanups.push(this.opts.ca.onRootsChange(() => void this.syncAll()));
    this.timer = setInterval(() => void this.syncAll(), this.opts.resyncMs ?? 60_000);
    this.timer.unref();
    void this.syncAll();
  }

  /** Stops timers and listeners, cancels requests in flight and waits for them to settle. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    for (const c of this.cleanups.splice(0)) c();
    this.abort.abort();
    const running: Promise<unknown>[] = [];
    for (const st of this.states.values()) {
      clearTimeout(st.retry);
      if (st.queued) running.push(st.queued);
      if (st.running) running.push(st.running);
    }
    await Promise.allSettled(running);
  }

  /** Reconciles every known namespace. */
  async syncAll(): Promise<void> {
    await Promise.all([...this.wanted].map((ns) => this.syncNamespace(ns)));
  }

  /**
   * Makes `ns`'s ConfigMap hold the current bundle. Calls for one namespace run one after another, and
   * calls made while one waits share it. Never rejects: a failure is 'failed' and a retry is scheduled.
   */
  syncNamespace(ns: string): Promise<RootConfigMapResult> {
    if (this.stopped) return Promise.resolve('failed');
    const st = this.stateOf(ns);
    st.forgotten = false;
    if (st.queued) return st.queued;
    const run: Promise<RootConfigMapResult> = (st.running ?? Promise.resolve())
      .then(() => {
        st.queued = undefined;
        st.running = run;
        return this.attempt(ns, st);
      })
      .finally(() => {
        if (st.running === run) st.running = undefined;
      });
    st.queued = run;
    return run;
  }

  private want(ns: string): void {
    if (this.ignored.has(ns) || this.wanted.has(ns)) return;
    this.wanted.add(ns);
    if (this.started) void this.syncNamespace(ns);
  }

  private forget(ns: string): void {
    this.wanted.delete(ns);
    const st = this.states.get(ns);
    if (!st) return;
    clearTimeout(st.retry);
    st.forgotten = true;
    if (!st.queued && !st.running) this.states.delete(ns);
  }

  private stateOf(ns: string): NamespaceState {
    let st = this.states.get(ns);
    if (!st) {
      st = { queued: undefined, running: undefined, failures: 0, retry: undefined, forgotten: false };
      this.states.set(ns, st);
    }
    return st;
  }

  private async attempt(ns: string, st: NamespaceState): Promise<RootConfigMapResult> {
    clearTimeout(st.retry);
    st.retry = undefined;
    if (this.stopped) return 'failed';
    try {
      const result = await this.reconcile(ns);
      st.failures = 0;
      return result;
    } catch (err) {
      if (this.stopped) return 'failed';
      this.writes?.inc({ result: 'error' });
      const { initial, max } = this.opts.backoffMs ?? { initial: 500, max: 30_000 };
      const retryInMs = Math.min(max, initial * 2 ** st.failures);
      st.failures++;
      this.log.warn(
        {
          namespace: ns,
          status: statusOf(err),
          err: errorMessage(err),
          retryInMs,
        },
        `could not publish the ${ROOT_CONFIGMAP_NAME} ConfigMap in namespace ${ns}; retrying`,
      );
      if (!st.forgotten) {
        st.retry = setTimeout(() => void this.syncNamespace(ns), retryInMs);
        st.retry.unref();
      }
      return 'failed';
    }
  }

  private async reconcile(ns: string): Promise<RootConfigMapResult> {
    const name = ROOT_CONFIGMAP_NAME;
    const data = this.opts.ca.rootConfigMapData();
    const where = `/api/v1/namespaces/${ns}/configmaps`;
    // Each call gets its own timeout; stop() aborts them all.
    const options = () =>
      requestOptions(this.opts.kubeConfig, deadline(this.opts.timeoutMs ?? 10_000, this.abort.signal));
    for (let retried = false; ; retried = true) {
      let cm: V1ConfigMap | undefined;
      try {
        cm = await this.api.readNamespacedConfigMap({ name, namespace: ns }, options());
      } catch (err) {
        if (statusOf(err) !== 404) throw kubeError(err, `GET ${where}/${name}`);
      }
      if (!cm) {
        try {
          await this.api.createNamespacedConfigMap({ namespace: ns, body: fresh(ns, data) }, options());
          return this.done(ns, 'created');
        } catch (err) {
          if (statusOf(err) === 409 && !retried) {
            this.writes?.inc({ result: 'conflict' });
            continue; // created meanwhile: read it again
          }
          throw kubeError(err, `POST ${where}`);
        }
      }
      if (upToDate(cm, data)) return 'unchanged';
      const metadata = cm.metadata ?? {};
      const next: V1ConfigMap = {
        ...cm,
        metadata: { ...metadata, labels: { ...metadata.labels, [ROOT_CONFIGMAP_LABEL]: 'true' } },
        data: { ...cm.data, ...data },
      };
      try {
        await this.api.replaceNamespacedConfigMap({ name, namespace: ns, body: next }, options());
        return this.done(ns, 'updated');
      } catch (err) {
        const code = statusOf(err);
        if ((code === 409 || code === 404) && !retried) {
          this.writes?.inc({ result: 'conflict' });
          continue; // changed or deleted meanwhile: read it again
        }
        throw kubeError(err, `PUT ${where}/${name}`);
      }
    }
  }

  private done(ns: string, result: 'created' | 'updated'): RootConfigMapResult {
    this.writes?.inc({ result });
    this.log.info({ namespace: ns, configmap: ROOT_CONFIGMAP_NAME }, `root certificate ConfigMap ${result}`);
    return result;
  }
}

function terminating(n: { status?: unknown }): boolean {
  return (n as Namespace).status?.phase === 'Terminating';
}

function fresh(ns: string, data: Record<string, string>): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: ROOT_CONFIGMAP_NAME, namespace: ns, labels: { [ROOT_CONFIGMAP_LABEL]: 'true' } },
    data,
  };
}

function upToDate(cm: V1ConfigMap, data: Record<string, string>): boolean {
  if (cm.metadata?.labels?.[ROOT_CONFIGMAP_LABEL] !== 'true') return false;
  return Object.entries(data).every(([k, v]) => cm.data?.[k] === v);
}
