/**
 * DirectorySource: configuration from a directory of YAML/JSON files, kept current while it runs.
 *
 * fs.watch on the directory triggers a rescan after a short quiet period, and a periodic rescan is the
 * safety net for missed events. A file is re-parsed only when its text changed. An invalid object is
 * reported and its last good version keeps serving; a file that is not valid YAML keeps all its previous
 * objects; an object defined in two files is reported and the first file by sorted name wins.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode, errorMessage } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/logger.js';
import { listConfigFiles } from './config-files.js';
import { parseDocuments } from './parse-documents.js';
import { SourceBase } from './source.js';
import { describeObject, type ConfigObject } from './types.js';
import { makeIssue, type ConfigIssue } from './validate.js';

export interface DirectorySourceOptions {
  dir: string;
  logger?: Logger;
  /** Quiet period after a file-system event before rescanning. Default 100 ms. */
  debounceMs?: number;
  /** Periodic rescan, the safety net for missed events. Default 5 s; 0 turns it off. */
  rescanMs?: number;
}

interface FileState {
  text: string;
  objects: Map<string, ConfigObject>;
  issues: ConfigIssue[];
}

export class DirectorySource extends SourceBase {
  readonly name: string;
  private readonly dir: string;
  private readonly log: Logger;
  private readonly debounceMs: number;
  private readonly rescanMs: number;
  private files = new Map<string, FileState>();
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private interval: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private again = false;
  private running = false;
  private logged = new Set<string>();

  constructor(opts: DirectorySourceOptions) {
    super();
    this.dir = opts.dir;
    this.name = `directory ${opts.dir}`;
    this.log = (opts.logger ?? silentLogger()).child({ source: 'directory', dir: opts.dir });
    this.debounceMs = opts.debounceMs ?? 100;
    this.rescanMs = opts.rescanMs ?? 5000;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.rescan();
    this.markSynced();
    this.ensureWatcher();
    if (this.rescanMs > 0) {
      this.interval = setInterval(() => {
        this.ensureWatcher();
        void this.rescan();
      }, this.rescanMs);
      this.interval.unref();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.watcher?.close();
    this.watcher = undefined;
    clearTimeout(this.debounce);
    clearInterval(this.interval);
    await this.scanning;
  }

  /** Reads the directory now; concurrent calls are folded into one more pass. */
  rescan(): Promise<void> {
    if (this.scanning) {
      this.again = true;
      return this.scanning;
    }
    this.scanning = (async () => {
      do {
        this.again = false;
        try {
          await this.scanOnce();
        } catch (err) {
          this.log.error({ err: errorMessage(err) }, 'cannot read the configuration directory');
        }
      } while (this.again);
      this.scanning = undefined;
    })();
    return this.scanning;
  }

  private ensureWatcher(): void {
    if (this.watcher || !this.running) return;
    try {
      this.watcher = watch(this.dir, { persistent: false }, () => this.schedule());
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch (err) {
      if (errorCode(err) !== 'ENOENT')
        this.log.warn({ err: errorMessage(err) }, 'cannot watch the directory');
    }
  }

  private schedule(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.rescan(), this.debounceMs);
    this.debounce.unref();
  }

  private async scanOnce(): Promise<void> {
    const names = await listConfigFiles(this.dir);
    const next = new Map<string, FileState>();
    for (const name of names) {
      let text: string;
      try {
        text = await readFile(join(this.dir, name), 'utf8');
      } catch (err) {
        if (errorCode(err) === 'ENOENT') continue;
        throw err;
      }
      const prev = this.files.get(name);
      next.set(name, prev && prev.text === text ? prev : this.loadFile(name, text, prev));
    }
    this.files = next;
    this.publish();
  }

  private loadFile(file: string, text: string, prev: FileState | undefined): FileState {
    const parsed = parseDocuments(text, file);
    const before = prev?.objects ?? new Map<string, ConfigObject>();
    if (!parsed.ok) return { text, objects: before, issues: [parsed.issue] };
    const objects = new Map<string, ConfigObject>();
    const issues: ConfigIssue[] = [];
    let unidentified = false;
    for (const doc of parsed.documents) {
      const r = doc.result;
      if (r.status === 'ignored') {
        this.log.debug(
          { file, kind: r.kind, apiVersion: r.apiVersion },
          'ignoring a kind the mesh does not read',
        );
      } else if (r.status === 'invalid') {
        issues.push(...r.issues);
        const last = r.key ? before.get(r.key) : undefined;
        if (r.key && last && !objects.has(r.key)) objects.set(r.key, last);
        if (!r.key) unidentified = true;
      } else if (objects.has(r.key)) {
        const who = {
          kind: r.object.kind,
          namespace: r.object.metadata.namespace,
          name: r.object.metadata.name,
        };
        issues.push(makeIssue(doc.origin, who, '', 'is defined twice in this file; the first one is used'));
      } else objects.set(r.key, r.object);
    }
    // A broken document we cannot name might be any of the previous objects: keep them all.
    if (unidentified) for (const [k, v] of before) if (!objects.has(k)) objects.set(k, v);
    return { text, objects, issues };
  }

  private publish(): void {
    const merged = new Map<string, { object: ConfigObject; file: string }>();
    const issues: ConfigIssue[] = [];
    for (const [file, state] of this.files) {
      issues.push(...state.issues);
      for (const [key, object] of state.objects) {
        const first = merged.get(key);
        if (!first) {
          merged.set(key, { object, file });
          continue;
        }
        const who = describeObject(object.kind, object.metadata.namespace, object.metadata.name);
        const message = `${who} is defined in both ${first.file} and ${file}; using the one in ${first.file}`;
        issues.push({
          ...makeIssue({ file }, {}, '', message),
          kind: object.kind,
          name: object.metadata.name,
        });
      }
    }
    for (const key of [...this.objects.keys()]) if (!merged.has(key)) this.remove(key);
    for (const [key, { object }] of merged) this.put(key, object);
    this.logIssues(issues);
    this.setIssues(issues);
  }

  /** Logs each problem once, when it first appears. */
  private logIssues(issues: ConfigIssue[]): void {
    const now = new Set(issues.map((i) => i.text));
    for (const text of now)
      if (!this.logged.has(text)) this.log.error({ problem: text }, `rejected configuration: ${text}`);
    this.logged = now;
  }
}
