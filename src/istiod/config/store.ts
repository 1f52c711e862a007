/**
 * ConfigStore: the current configuration objects, fed by ConfigSource events, answering get/list by
 * kind id (kinds.ts: group + kind, so `IstioGateway` and Gateway API's `Gateway` stay apart) and
 * namespace, with change listeners.
 */
import type { ConfigEvent, ConfigSource } from './source.js';
import { kindIdOf } from './kinds.js';
import { keyOf, objectKey, type Kind, type KindMap, type ConfigObject } from './types.js';

export type ChangeListener = (event: ConfigEvent) => void;

export class ConfigStore {
  private readonly byKind = new Map<string, Map<string, ConfigObject>>();
  private readonly listeners = new Set<ChangeListener>();

  /** Applies one event and tells the listeners. Objects are kept by kind id (group + kind). */
  apply(event: ConfigEvent): void {
    const kind = kindIdOf(event.object) ?? event.object.kind;
    let map = this.byKind.get(kind);
    if (!map) {
      map = new Map();
      this.byKind.set(kind, map);
    }
    if (event.type === 'delete') {
      if (!map.delete(event.key)) return;
    } else map.set(event.key, event.object);
    for (const l of [...this.listeners]) l(event);
  }

  /** Loads the source's current objects and follows its events; returns a function that detaches. */
  attach(source: ConfigSource): () => void {
    for (const object of source.snapshot()) this.apply({ type: 'add', key: keyOf(object), object });
    return source.subscribe({ event: (e) => this.apply(e) });
  }

  get<K extends Kind>(kind: K, namespace: string | undefined, name: string): KindMap[K] | undefined {
    return this.byKind.get(kind)?.get(objectKey(kind, namespace, name)) as KindMap[K] | undefined;
  }

  /** All objects of a kind, or those in one namespace; sorted by namespace, then name. */
  list<K extends Kind>(kind: K, namespace?: string): KindMap[K][] {
    const map = this.byKind.get(kind);
    if (!map) return [];
    const out: KindMap[K][] = [];
    for (const obj of map.values())
      if (namespace === undefined || obj.metadata.namespace === namespace) out.push(obj as KindMap[K]);
    return out.sort(
      (a, b) =>
        (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
        a.metadata.name.localeCompare(b.metadata.name),
    );
  }

  get size(): number {
    let n = 0;
    for (const m of this.byKind.values()) n += m.size;
    return n;
  }

  /** Returns a function that removes the listener. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
