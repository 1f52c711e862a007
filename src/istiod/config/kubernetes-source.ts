/**
 * KubernetesSource: configuration from a Kubernetes API server through @kubernetes/client-node, one
 * informer (list, then watch with bookmarks) per kind. A 410 Gone makes that kind relist, and objects
 * missing from the new list are deleted; failures are retried with exponential backoff. A kind whose
 * CRD is not installed (404) counts as empty and is retried with backoff.
 */
import { errorMessage } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { loadKubeConfig, serverOf, statusOf, type KubeConfig } from './kube-client.js';
import {
  KubeInformer,
  type InformerHandlers,
  type InformerOptions,
  type RawObject,
} from './kube-informer.js';
import { collectionPath, KINDS, resourceOf, watchVersions, type KindInfo } from './kinds.js';
import { SourceBase } from './source.js';
import { objectKey, type Kind } from './types.js';
import { identify, validateObject, type ConfigIssue } from './validate.js';

export interface KubernetesSourceOptions {
  /** A loaded KubeConfig, a kubeconfig file path, or nothing for the in-cluster service account. */
  kubeconfig?: KubeConfig | string;
  /** Kinds to watch; default all the mesh reads. */
  kinds?: readonly Kind[];
  logger?: Logger;
  /** Retry delays after a failure: first, and the cap. Default 500 ms and 30 s. */
  backoffMs?: { initial: number; max: number };
  /** A watch with no bytes for this long is reopened. Default 5 minutes. */
  watchIdleTimeoutMs?: number;
}

interface KindState {
  info: KindInfo;
  informer: KubeInformer;
  /** Index in watchVersions(info) of the version watched. */
  version: number;
  listed: boolean;
  missingLogged: boolean;
}

export class KubernetesSource extends SourceBase {
  readonly name: string;
  private readonly log: Logger;
  private readonly kinds: KindState[];
  private readonly invalid = new Map<string, ConfigIssue[]>();
  private readonly kc: KubeConfig;
  private readonly informerOpts: InformerOptions;
  private stopped = false;

  constructor(opts: KubernetesSourceOptions = {}) {
    super();
    const kc = loadKubeConfig(opts.kubeconfig);
    const server = serverOf(kc);
    this.name = `kubernetes ${server}`;
    this.log = (opts.logger ?? silentLogger()).child({ source: 'kubernetes', server });
    this.kc = kc;
    this.informerOpts = {
      backoffMs: opts.backoffMs ?? { initial: 500, max: 30_000 },
      idleTimeoutMs: opts.watchIdleTimeoutMs ?? 300_000,
    };
    const wanted = new Set<string>(opts.kinds ?? KINDS.map((k) => k.id));
    this.kinds = KINDS.filter((k) => wanted.has(k.id)).map((info) => this.makeKind(info));
  }

  /** The version of each kind being watched (e.g. EndpointSlice `v1beta1` on Kubernetes 1.20). */
  watchedVersions(): Record<string, string> {
    return Object.fromEntries(this.kinds.map((k) => [k.info.id, watchVersions(k.info)[k.version]!]));
  }

  private makeKind(info: KindInfo): KindState {
    const state = { info, version: 0, listed: false, missingLogged: false } as KindState;
    state.informer = this.makeInformer(state);
    return state;
  }

  private makeInformer(state: KindState): KubeInformer {
    const handlers: InformerHandlers = {
      listed: () => this.listed(state),
      event: (type, o) => (type === 'DELETED' ? this.deleted(o) : this.changed(o)),
      error: (err, retryInMs) => this.failed(state, err, retryInMs),
    };
    const version = watchVersions(state.info)[state.version]!;
    return new KubeInformer(this.kc, collectionPath(state.info, version), handlers, this.informerOpts);
  }

  start(): Promise<void> {
    this.stopped = false;
    for (const k of this.kinds) k.informer.start();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.kinds.map((k) => k.informer.stop()));
  }

  /** A (re)list was applied: its additions, changes and deletions came as events. */
  private listed(k: KindState): void {
    k.missingLogged = false;
    this.markListed(k);
  }

  private markListed(k: KindState): void {
    k.listed = true;
    if (this.kinds.every((x) => x.listed)) this.markSynced();
  }

  /** Validates and serves the object; an invalid one is reported and its last good version stays. */
  private changed(raw: RawObject): void {
    const r = validateObject(raw);
    if (r.status === 'ignored') return;
    if (r.status === 'valid') {
      this.invalid.delete(r.key);
      this.put(r.key, r.object);
    } else {
      for (const i of r.issues) this.log.error({ problem: i.text }, `rejected configuration: ${i.text}`);
      if (r.key) this.invalid.set(r.key, r.issues);
    }
    this.setIssues([...this.invalid.values()].flat());
  }

  private deleted(raw: RawObject): void {
    const id = identify(raw);
    if (id) this.forget(objectKey(id.info.id, id.namespace, id.name));
  }

  private forget(key: string): void {
    this.invalid.delete(key);
    this.remove(key);
    this.setIssues([...this.invalid.values()].flat());
  }

  private failed(k: KindState, err: unknown, retryInMs: number): void {
    const versions = watchVersions(k.info);
    if (statusOf(err) === 404 && k.version < versions.length - 1 && !k.listed) {
      // An older API server: watch the next version it may serve instead.
      const old = k.informer;
      k.version++;
      this.log.info(
        { kind: k.info.kind, from: versions[k.version - 1], to: versions[k.version] },
        `${k.info.kind} ${versions[k.version - 1]!} is not served; watching ${versions[k.version]!}`,
      );
      k.informer = this.makeInformer(k);
      void old.stop().then(() => this.stopped || k.informer.start());
      return;
    }
    if (statusOf(err) === 404) {
      if (!k.missingLogged)
        this.log.warn(
          { kind: k.info.kind, group: k.info.group },
          `${resourceOf(k.info)} is not served by the API server (CRD not installed?)`,
        );
      k.missingLogged = true;
      this.markListed(k);
      return;
    }
    this.log.warn({ kind: k.info.kind, err: errorMessage(err), retryInMs }, 'list/watch failed; retrying');
  }
}
