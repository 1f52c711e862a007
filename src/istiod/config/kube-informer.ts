/**
 * One collection followed as Kubernetes informers do it, on @kubernetes/client-node's ListWatch: list
 * (remember the list's resourceVersion), then watch from that version with bookmarks; on 410 Gone (HTTP
 * status or ERROR event) list again, deleting what the new list lacks; a watch silent for the idle time
 * is reopened from the same version. On a failure ListWatch stops: this class restarts it after an
 * exponential backoff, from the last version it saw.
 */
import {
  ADD,
  DELETE,
  ERROR,
  ListWatch,
  UPDATE,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
} from '@kubernetes/client-node';
import { kubeError, listCollection } from './kube-client.js';

export interface RawObject {
  kind?: string;
  apiVersion?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  [k: string]: unknown;
}

/** ListWatch's object type: metadata is always present on what the API server serves. */
type Served = RawObject & { metadata: NonNullable<RawObject['metadata']> };

export interface InformerHandlers {
  /** A list was applied (the events for what it added, changed and removed have been delivered). */
  listed(): void;
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: RawObject): void;
  error(err: unknown, retryInMs: number): void;
}

export interface InformerOptions {
  backoffMs: { initial: number; max: number };
  /** A watch silent for this long is reopened. */
  idleTimeoutMs: number;
}

type WatchDone = (err: unknown) => void;
type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;

/**
 * client-node's Watch asking for bookmarks (ListWatch does not), whose requests end when the informer
 * stops, including one that was still connecting.
 */
class BookmarkWatch extends Watch {
  stopped = false;
  private readonly active = new Set<AbortController>();

  override async watch(
    path: string,
    params: Record<string, unknown>,
    callback: WatchCallback,
    done: WatchDone,
  ): Promise<AbortController> {
    if (this.stopped) {
      const c = new AbortController();
      c.abort();
      return c;
    }
    // done may come before watch() returns (a refused request): then there is nothing to track.
    const state: { ended: boolean; c?: AbortController } = { ended: false };
    const c = await super.watch(path, { ...params, allowWatchBookmarks: true }, callback, (err) => {
      state.ended = true;
      if (state.c) this.active.delete(state.c);
      done(err);
    });
    state.c = c;
    if (this.stopped) c.abort();
    else if (!state.ended) this.active.add(c);
    return c;
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.active) c.abort();
    this.active.clear();
  }
}

export class KubeInformer {
  private stopped = true;
  private readonly watch: BookmarkWatch;
  private readonly lw: ListWatch<Served>;
  private delayMs: number;
  private retry: NodeJS.Timeout | undefined;
  private listAbort = new AbortController();
  private running: Promise<void> | undefined;
  private readonly sleeps = new Set<() => void>();

  constructor(
    kc: KubeConfig,
    private readonly path: string,
    private readonly handlers: InformerHandlers,
    private readonly opts: InformerOptions,
  ) {
    this.delayMs = opts.backoffMs.initial;
    this.watch = new BookmarkWatch(kc);
    // Watch's inactivity timeout (30 s by default; declared private in its typings): a watch without
    // a byte for this long is reopened from the same resourceVersion.
    (this.watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = opts.idleTimeoutMs;
    const list = async (): Promise<KubernetesListObject<Served>> => {
      const got = await listCollection<Served>(kc, path, this.listAbort.signal);
      const result = { metadata: got.metadata ?? {}, items: got.items ?? [] };
      this.delayMs = opts.backoffMs.initial;
      // ListWatch applies the list synchronously once this promise settles: report it after that.
      setImmediate(() => this.stopped || handlers.listed());
      return result;
    };
    this.lw = new ListWatch<Served>(path, this.watch, list, false, undefined, undefined, {
      delayFn: (ms: number) => this.sleep(Math.min(ms, opts.backoffMs.max)),
    });
    this.lw.on(ADD, (o) => this.event('ADDED', o));
    this.lw.on(UPDATE, (o) => this.event('MODIFIED', o));
    this.lw.on(DELETE, (o) => this.event('DELETED', o));
    this.lw.on(ERROR, (err: unknown) => this.failed(err));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.watch.stopped = false;
    this.listAbort = new AbortController();
    this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    for (const wake of this.sleeps) wake();
    this.listAbort.abort();
    this.watch.stop();
    await this.lw.stop();
    await this.running;
  }

  private run(): void {
    this.running = this.lw.start().catch((err: unknown) => this.failed(err));
  }

  private event(type: 'ADDED' | 'MODIFIED' | 'DELETED', o: Served): void {
    if (this.stopped) return;
    this.delayMs = this.opts.backoffMs.initial;
    this.handlers.event(type, o);
  }

  /** ListWatch gave up (list failed, or the watch failed other than by 410/idle): retry after a delay. */
  private failed(err: unknown): void {
    if (this.stopped) return;
    const retryInMs = this.delayMs;
    this.handlers.error(kubeError(err, `list/watch ${this.path}`), retryInMs);
    this.delayMs = Math.min(this.delayMs * 2, this.opts.backoffMs.max);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.stopped || this.run(), retryInMs);
    this.retry.unref();
  }

  /** ListWatch's pause between watches that ended without events; cut short by stop(). */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.sleeps.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      t.unref();
      this.sleeps.add(done);
    });
  }
}
