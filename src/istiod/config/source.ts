/**
 * The ConfigSource interface every configuration source implements (a directory of YAML files, the
 * Kubernetes API), and a small base class holding subscribers, the current objects and the issues.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ConfigObject } from './types.js';
import type { ConfigIssue } from './validate.js';

export type ConfigEvent =
  | { type: 'add'; key: string; object: ConfigObject }
  | { type: 'update'; key: string; object: ConfigObject; previous: ConfigObject }
  | { type: 'delete'; key: string; object: ConfigObject };

export interface ConfigSourceHandlers {
  /** One object was added, changed or removed; keys are `Kind/namespace/name`. */
  event?: (event: ConfigEvent) => void;
  /** The initial state has been delivered (called once). */
  synced?: () => void;
  /** The set of current problems changed (invalid objects, unreadable files, duplicates). */
  issues?: (issues: readonly ConfigIssue[]) => void;
}

export interface ConfigSource {
  readonly name: string;
  /** Returns a function that unsubscribes. */
  subscribe(handlers: ConfigSourceHandlers): () => void;
  /** The objects currently served (for subscribers that join late). */
  snapshot(): ConfigObject[];
  readonly synced: boolean;
  whenSynced(): Promise<void>;
  /** Current problems, as values (also logged). */
  issues(): readonly ConfigIssue[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export abstract class SourceBase implements ConfigSource {
  abstract readonly name: string;
  protected readonly objects = new Map<string, ConfigObject>();
  private readonly handlers = new Set<ConfigSourceHandlers>();
  private currentIssues: readonly ConfigIssue[] = [];
  private isSynced = false;
  private readonly syncWaiters: (() => void)[] = [];

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  subscribe(handlers: ConfigSourceHandlers): () => void {
    this.handlers.add(handlers);
    return () => this.handlers.delete(handlers);
  }

  snapshot(): ConfigObject[] {
    return [...this.objects.values()];
  }

  get synced(): boolean {
    return this.isSynced;
  }

  whenSynced(): Promise<void> {
    if (this.isSynced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  issues(): readonly ConfigIssue[] {
    return this.currentIssues;
  }

  /** Records the object under `key` and emits add/update; no event when nothing changed. */
  protected put(key: string, object: ConfigObject): void {
    const previous = this.objects.get(key);
    if (previous && isDeepStrictEqual(previous, object)) return;
    this.objects.set(key, object);
    this.emit(previous ? { type: 'update', key, object, previous } : { type: 'add', key, object });
  }

  protected remove(key: string): void {
    const object = this.objects.get(key);
    if (!object) return;
    this.objects.delete(key);
    this.emit({ type: 'delete', key, object });
  }

  protected markSynced(): void {
    if (this.isSynced) return;
    this.isSynced = true;
    for (const h of [...this.handlers]) h.synced?.();
    for (const w of this.syncWaiters.splice(0)) w();
  }

  protected setIssues(issues: readonly ConfigIssue[]): void {
    const same =
      issues.length === this.currentIssues.length &&
      issues.every((i, n) => i.text === this.currentIssues[n]?.text);
    if (same) return;
    this.currentIssues = issues;
    for (const h of [...this.handlers]) h.issues?.(issues);
  }

  private emit(event: ConfigEvent): void {
    for (const h of [...this.handlers]) h.event?.(event);
  }
}
