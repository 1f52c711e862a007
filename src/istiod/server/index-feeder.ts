/**
 * Feeds the ambient index from the configuration store: the whole store once (the initial build,
 * after the source has synced), then each change. Events that arrive together (a directory rescan
 * publishes many in one go) are applied as one batch, so each affected resource is computed once.
 */
import { errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import type { ConfigEvent as SourceEvent } from '../config/source.js';
import type { ConfigStore } from '../config/store.js';
import type { ConfigObject as StoredObject, KindMap } from '../config/types.js';
import type { AmbientIndex, ChangeSet, ConfigEvent as IndexEvent } from '../model/ambient-index.js';
import { isEmptyChangeSet } from '../model/change-set.js';
import { kindIdOf } from '../config/kinds.js';
import type { ConfigKind } from '../model/inputs.js';
import type { ConfigMetrics } from './config-metrics.js';

/** The kinds the index reads (EndpointSlice and Deployment are read by the config layer only). */
export const INDEX_KINDS: readonly ConfigKind[] = [
  'Namespace',
  'Pod',
  'Service',
  'ServiceEntry',
  'Gateway',
  'AuthorizationPolicy',
  'PeerAuthentication',
];

const INDEX_KIND_SET = new Set<string>(INDEX_KINDS);

/**
 * The config layer's validated objects of these kinds have the shapes the index reads (the index's
 * input types are structural views of the same objects; the compiler checks the assignment).
 */
function isIndexObject(o: StoredObject): o is KindMap[ConfigKind] {
  return INDEX_KIND_SET.has(kindIdOf(o) ?? '');
}

export class IndexFeeder {
  private queue: IndexEvent[] = [];
  private scheduled = false;
  private live = false;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly store: ConfigStore,
    private readonly index: AmbientIndex,
    private readonly metrics: ConfigMetrics,
    private readonly log: Logger,
    /** Receives each non-empty change set (timed apart from the index). */
    private readonly publish: (changes: ChangeSet) => void,
  ) {
    this.unsubscribe = store.onChange((e) => this.onEvent(e));
  }

  /** Loads every object of the store into the index in one batch; from then on, follows changes. */
  loadAll(): void {
    const started = performance.now();
    const changes = this.index.batch(() => {
      for (const kind of INDEX_KINDS) {
        for (const o of this.store.list(kind)) this.safely(() => this.index.upsert(o));
      }
    });
    const seconds = (performance.now() - started) / 1000;
    this.metrics.indexCompute.observe({ phase: 'initial' }, seconds);
    this.log.info({ ms: Math.round(seconds * 1000) }, 'ambient index built');
    this.live = true;
    this.queue = [];
    this.hand(changes, 'initial');
  }

  stop(): void {
    this.unsubscribe();
    this.live = false;
    this.queue = [];
  }

  private onEvent(e: SourceEvent): void {
    this.metrics.events.inc({ type: e.object.kind, event: e.type });
    this.metrics.objects.inc({ kind: e.object.kind }, e.type === 'add' ? 1 : e.type === 'delete' ? -1 : 0);
    // Before the initial build the store just collects; loadAll() reads it whole.
    const object = e.object;
    if (!this.live || !isIndexObject(object)) return;
    const meta = object.metadata;
    this.queue.push(
      e.type === 'delete'
        ? { type: 'remove', kind: object.kind, namespace: meta.namespace ?? 'default', name: meta.name }
        : { type: 'upsert', object },
    );
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    const events = this.queue;
    this.queue = [];
    if (!this.live || events.length === 0) return;
    const started = performance.now();
    let changes: ChangeSet | undefined;
    this.safely(() => (changes = this.index.apply(events)));
    this.metrics.indexCompute.observe({ phase: 'update' }, (performance.now() - started) / 1000);
    if (changes) this.hand(changes, 'update');
  }

  private hand(changes: ChangeSet, phase: 'initial' | 'update'): void {
    if (isEmptyChangeSet(changes)) return;
    const started = performance.now();
    this.safely(() => this.publish(changes));
    this.metrics.xdsPrepare.observe({ phase }, (performance.now() - started) / 1000);
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'ambient index could not apply a configuration change');
    }
  }
}
