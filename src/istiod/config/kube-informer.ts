/**
 * A list/watch loop for one collection, as Kubernetes informers do it: list (remember the list's
 * resourceVersion), then watch from that version with bookmarks; on 410 Gone (HTTP status or ERROR
 * event) list again; on a failure wait with exponential backoff and try again from the last version.
 */
import { createInterface } from 'node:readline';
import { kubeGet, kubeGetJson, KubeHttpError, statusError, type KubeEndpoint } from './kube-client.js';

export interface RawObject {
  kind?: string;
  apiVersion?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
  [k: string]: unknown;
}

export interface InformerHandlers {
  /** A full list: the complete current state of the collection. */
  list(items: RawObject[]): void;
  event(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: RawObject): void;
  error(err: unknown, retryInMs: number): void;
}

export interface InformerOptions {
  backoffMs: { initial: number; max: number };
  /** A watch silent for this long is reopened. */
  idleTimeoutMs: number;
}

export class KubeInformer {
  private resourceVersion = '';
  private stopped = false;
  private abort: AbortController | undefined;
  private delayMs: number;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly ep: KubeEndpoint,
    private readonly path: string,
    private readonly handlers: InformerHandlers,
    private readonly opts: InformerOptions,
  ) {
    this.delayMs = opts.backoffMs.initial;
  }

  start(): void {
    this.stopped = false;
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) {
          const list = await kubeGetJson<{ metadata?: { resourceVersion?: string }; items?: RawObject[] }>(
            this.ep,
            this.path,
          );
          if (this.stopped) return;
          this.handlers.list(list.items ?? []);
          this.resourceVersion = list.metadata?.resourceVersion ?? '';
          this.delayMs = this.opts.backoffMs.initial;
        }
        const sawEvents = await this.watchOnce();
        if (!sawEvents && !this.stopped && this.resourceVersion) await this.sleep(this.delayMs); // no hot loop
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof KubeHttpError && err.statusCode === 410) {
          this.resourceVersion = '';
          continue;
        }
        this.handlers.error(err, this.delayMs);
        await this.sleep(this.delayMs);
        this.delayMs = Math.min(this.delayMs * 2, this.opts.backoffMs.max);
      }
    }
  }

  /** One watch request; resolves when the server ends it. Returns whether any event arrived. */
  private async watchOnce(): Promise<boolean> {
    const q = new URLSearchParams({
      watch: 'true',
      allowWatchBookmarks: 'true',
      resourceVersion: this.resourceVersion,
    });
    const ac = new AbortController();
    this.abort = ac;
    const res = await kubeGet(this.ep, `${this.path}?${q.toString()}`, ac.signal);
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw statusError(res.statusCode ?? 0, this.path, Buffer.concat(chunks).toString('utf8'));
    }
    let saw = false;
    const idle = setTimeout(() => ac.abort(), this.opts.idleTimeoutMs).unref();
    const lines = createInterface({ input: res, crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        idle.refresh();
        if (!line.trim()) continue;
        const ev = JSON.parse(line) as { type: string; object: RawObject & { code?: number } };
        saw = true;
        this.delayMs = this.opts.backoffMs.initial;
        if (ev.type === 'ERROR') {
          if (ev.object.code === 410) this.resourceVersion = '';
          else
            throw new KubeHttpError(
              ev.object.code ?? 500,
              `watch ${this.path}: ${String(ev.object.message ?? 'error')}`,
            );
          break;
        }
        if (ev.type === 'ADDED' || ev.type === 'MODIFIED' || ev.type === 'DELETED')
          this.handlers.event(ev.type, ev.object);
        const rv = ev.object.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
      }
    } catch (err) {
      if (ac.signal.aborted && !this.stopped) return saw; // idle timeout: reopen from the last version
      throw err;
    } finally {
      clearTimeout(idle);
      res.destroy();
    }
    return saw;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = setTimeout(resolve, ms);
      this.sleepTimer.unref();
    });
  }
}
