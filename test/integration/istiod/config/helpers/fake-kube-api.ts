/**
 * A small Kubernetes API server for tests that speaks the real list/watch protocol over HTTP:
 *
 * - `GET <collection>` returns a JSON list whose `metadata.resourceVersion` is the current version;
 * - `GET <collection>?watch=true&resourceVersion=N` streams newline-delimited events
 *   (`ADDED`/`MODIFIED`/`DELETED`, `BOOKMARK` when `allowWatchBookmarks=true`) after version N; with no
 *   version it first sends the current objects as `ADDED`;
 * - a version older than the compacted history gets `410 Gone`: an `ERROR` event carrying a Status with
 *   code 410 (as the API server does), or an HTTP 410 status when `goneAs: 'status'`.
 *
 * Collections are any `/api/...` or `/apis/...` path; objects are stored per collection by namespace and
 * name. Tests change objects with add/modify/remove and provoke failures with compact, expireWatches,
 * dropConnections and stop/start (same port).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import type { KubeEndpoint } from '../../../../../src/istiod/config/kube-client.js';

export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
};

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface Watcher {
  path: string;
  res: ServerResponse;
  bookmarks: boolean;
}

export interface RequestRecord {
  path: string;
  watch: boolean;
  resourceVersion: string | undefined;
}

function objKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export class FakeKubeApi {
  /** Every request received, in order. */
  readonly requests: RequestRecord[] = [];
  /** Collections answered with 404 (a CRD not installed). */
  readonly notFound = new Set<string>();
  goneAs: 'event' | 'status' = 'event';
  private rv = 1;
  private compactedRv = 0;
  private readonly collections = new Map<string, Map<string, KubeObject>>();
  private history: { rv: number; path: string; type: EventType; object: KubeObject }[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private boundPort = 0;
  private watchWaiters: { path: string; resolve: () => void }[] = [];

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  /** Listens on 127.0.0.1 (a random port the first time, the same port after a stop). */
  async start(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, '127.0.0.1', () => resolve());
    });
    this.boundPort = (server.address() as { port: number }).port;
    this.server = server;
  }

  /** Closes the listener and every connection (open watches end abruptly). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.dropConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The endpoint of this server, no credentials. */
  endpoint(): KubeEndpoint {
    return { server: this.url };
  }

  /** Text of a kubeconfig file for this server. */
  kubeConfigYaml(): string {
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url } }],
      users: [{ name: 'fake', user: {} }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
      'current-context': 'fake',
    });
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  add(path: string, object: KubeObject): KubeObject {
    return this.write(path, object, 'ADDED');
  }

  modify(path: string, object: KubeObject): KubeObject {
    return this.write(path, object, 'MODIFIED');
  }

  remove(path: string, namespace: string | undefined, name: string): void {
    const coll = this.collections.get(path);
    const old = coll?.get(`${namespace ?? ''}/${name}`);
    if (!coll || !old) throw new Error(`fake-kube-api: no ${namespace ?? ''}/${name} in ${path}`);
    coll.delete(objKey(old));
    const rv = ++this.rv;
    const object = structuredClone(old);
    object.metadata.resourceVersion = String(rv);
    this.record(path, 'DELETED', object, rv);
  }

  /** Forgets the event history: a watch from any version before now gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Sends every open watch an ERROR event with a 410 Status, then ends it (the client must relist). */
  expireWatches(): void {
    for (const w of [...this.watchers]) {
      w.res.end(`${JSON.stringify({ type: 'ERROR', object: this.goneStatus('0') })}\n`);
      this.watchers.delete(w);
    }
  }

  /** Sends a BOOKMARK with the current version to every watch that asked for bookmarks. */
  bookmark(): void {
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      const object = { kind: 'Bookmark', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } };
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object })}\n`);
    }
  }

  /** Destroys every open connection (the listener stays). */
  dropConnections(): void {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Resolves once a watch on `path` is open. */
  waitForWatch(path: string): Promise<void> {
    for (const w of this.watchers) if (w.path === path) return Promise.resolve();
    return new Promise((resolve) => this.watchWaiters.push({ path, resolve }));
  }

  private write(path: string, input: KubeObject, type: EventType): KubeObject {
    let coll = this.collections.get(path);
    if (!coll) {
      coll = new Map();
      this.collections.set(path, coll);
    }
    const object = structuredClone(input);
    const rv = ++this.rv;
    const old = coll.get(objKey(object));
    object.metadata.resourceVersion = String(rv);
    object.metadata.uid ??= old?.metadata.uid ?? randomUUID();
    object.metadata.creationTimestamp ??= old?.metadata.creationTimestamp ?? new Date().toISOString();
    coll.set(objKey(object), object);
    this.record(path, type, object, rv);
    return object;
  }

  private record(path: string, type: EventType, object: KubeObject, rv: number): void {
    this.history.push({ rv, path, type, object });
    for (const w of this.watchers) if (w.path === path) w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private goneStatus(from: string): Record<string, unknown> {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `too old resource version: ${from} (${this.compactedRv})`,
      reason: 'Expired',
      code: 410,
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const watch = url.searchParams.get('watch') === 'true';
    const rvParam = url.searchParams.get('resourceVersion') ?? undefined;
    this.requests.push({ path, watch, resourceVersion: rvParam });
    if (
      req.method !== 'GET' ||
      !(path.startsWith('/api/') || path.startsWith('/apis/')) ||
      this.notFound.has(path)
    ) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'NotFound',
          code: 404,
          message: `the server could not find the requested resource (${path})`,
        }),
      );
      return;
    }
    const items = [...(this.collections.get(path)?.values() ?? [])];
    if (!watch) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'List',
          apiVersion: 'v1',
          metadata: { resourceVersion: String(this.rv) },
          items,
        }),
      );
      return;
    }
    const from = rvParam === undefined || rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (from !== undefined && (!Number.isFinite(from) || from < this.compactedRv)) {
      if (this.goneAs === 'status') {
        res.writeHead(410, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.goneStatus(rvParam!)));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'ERROR', object: this.goneStatus(rvParam!) })}\n`);
      }
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (from === undefined)
      for (const object of items) res.write(`${JSON.stringify({ type: 'ADDED', object })}\n`);
    else
      for (const e of this.history)
        if (e.path === path && e.rv > from)
          res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
    const w: Watcher = { path, res, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true' };
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
    const waiting = this.watchWaiters.filter((x) => x.path === path);
    this.watchWaiters = this.watchWaiters.filter((x) => x.path !== path);
    for (const x of waiting) x.resolve();
  }
}
