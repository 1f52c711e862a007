/**
 * A small Kubernetes API server for tests that speaks the real list/watch protocol over HTTPS (its own
 * serving certificate; `endpoint()` and `kubeConfigYaml()` trust it, as a kubeconfig does):
 *
 * - `GET <collection>` returns a JSON list (`<Kind>List`, items without kind and apiVersion, as the
 *   API server sends them) whose `metadata.resourceVersion` is the current version;
 * - `GET <collection>?watch=true&resourceVersion=N` streams newline-delimited events
 *   (`ADDED`/`MODIFIED`/`DELETED`, `BOOKMARK` when `allowWatchBookmarks=true`) after version N; with no
 *   version it first sends the current objects as `ADDED`;
 * - a version older than the compacted history gets `410 Gone`: an `ERROR` event carrying a Status with
 *   code 410 (as the API server does), or an HTTP 410 status when `goneAs: 'status'`.
 *
 * Collections are any `/api/...` or `/apis/...` path; objects are stored per collection by namespace and
 * name. Tests change objects with add/modify/remove and provoke failures with compact, expireWatches,
 * dropConnections and stop/start (same port).
 *
 * Clients may also write, as to the real API server: `POST <prefix>/namespaces/{ns}/{plural}` creates
 * (409 AlreadyExists if present), `GET|PUT|DELETE <prefix>/namespaces/{ns}/{plural}/{name}` (or
 * `<prefix>/{plural}/{name}` for a cluster-scoped kind) reads, replaces and deletes, 404 when absent.
 * A PUT whose `metadata.resourceVersion` is not the stored one gets 409 Conflict. Objects written this
 * way live in the cluster-wide collection (`<prefix>/{plural}`), so its list and watches see them.
 * `failNext` makes the next matching requests answer an error status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { stringify } from 'yaml';
import { kubeConfigFor, type KubeConfig } from '../../../../../src/istiod/config/kube-client.js';
import { TEST_SERVER_NAME, testServingCert } from './test-tls.js';

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
  method: string;
  path: string;
  watch: boolean;
  resourceVersion: string | undefined;
}

/** An injected failure: the next `count` requests matching `method` (and `path`, when set) get `status`. */
interface Failure {
  method: string;
  path: string | undefined;
  status: number;
  count: number;
}

/** Where an object path points: the cluster-wide collection, the namespace (if any), the name (if any). */
interface Target {
  collection: string;
  namespace: string | undefined;
  name: string | undefined;
}

/** `<prefix>/{plural}[/{name}]` or `<prefix>/namespaces/{ns}/{plural}[/{name}]`; undefined for a collection. */
function parseTarget(path: string): Target | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  const prefixLen = parts[0] === 'api' ? 2 : 3;
  const prefix = `/${parts.slice(0, prefixLen).join('/')}`;
  const rest = parts.slice(prefixLen);
  if (rest.length === 2) return { collection: `${prefix}/${rest[0]}`, namespace: undefined, name: rest[1] };
  if (rest.length === 3 && rest[0] === 'namespaces')
    return { collection: `${prefix}/${rest[2]}`, namespace: rest[1], name: undefined };
  if (rest.length === 4 && rest[0] === 'namespaces')
    return { collection: `${prefix}/${rest[2]}`, namespace: rest[1], name: rest[3] };
  return undefined;
}

function status(code: number, reason: string, message: string): Record<string, unknown> {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason, code, message };
}

/**
 * A list as the API server sends it: `<Kind>List` with the items' apiVersion, and the items without
 * kind and apiVersion (watch events carry them; list items do not).
 */
function listOf(items: KubeObject[], rv: number): Record<string, unknown> {
  const first = items[0];
  return {
    kind: first ? `${first.kind}List` : 'List',
    apiVersion: first?.apiVersion ?? 'v1',
    metadata: { resourceVersion: String(rv) },
    items: items.map(({ kind: _kind, apiVersion: _apiVersion, ...rest }) => rest),
  };
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
  private readonly failures: Failure[] = [];
  private readonly tls = testServingCert();

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `https://127.0.0.1:${this.boundPort}`;
  }

  /** Listens on 127.0.0.1 (a random port the first time, the same port after a stop). */
  async start(): Promise<void> {
    const server = createServer({ key: this.tls.key, cert: this.tls.cert }, (req, res) =>
      this.handle(req, res),
    );
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

  /** A KubeConfig for this server (its CA trusted), no credentials. */
  endpoint(): KubeConfig {
    return kubeConfigFor(this.url, {}, this.clusterTls());
  }

  private clusterTls(): { caData: string; tlsServerName: string } {
    return { caData: Buffer.from(this.tls.caPem).toString('base64'), tlsServerName: TEST_SERVER_NAME };
  }

  /** Text of a kubeconfig file for this server. */
  kubeConfigYaml(): string {
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'fake',
          cluster: {
            server: this.url,
            'certificate-authority-data': this.clusterTls().caData,
            'tls-server-name': TEST_SERVER_NAME,
          },
        },
      ],
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

  /** The stored object, or undefined (`path` is the cluster-wide collection, e.g. `/api/v1/configmaps`). */
  get(path: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.collections.get(path)?.get(`${namespace ?? ''}/${name}`);
    return o ? structuredClone(o) : undefined;
  }

  /** The next `count` requests with `method` (and whose path is `path`, when given) answer `status`. */
  failNext(method: string, status: number, opts: { path?: string; count?: number } = {}): void {
    this.failures.push({ method, path: opts.path, status, count: opts.count ?? 1 });
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
    const method = req.method ?? 'GET';
    this.requests.push({ method, path, watch, resourceVersion: rvParam });
    const failure = this.failures.find(
      (f) => f.method === method && (f.path === undefined || f.path === path),
    );
    if (failure) {
      if (--failure.count <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
      this.reply(res, failure.status, status(failure.status, 'InternalError', `injected failure (${path})`));
      return;
    }
    const target = path.startsWith('/api/') || path.startsWith('/apis/') ? parseTarget(path) : undefined;
    if (target && !this.notFound.has(target.collection) && (target.name !== undefined || method === 'POST')) {
      this.readJson(req, (body) => this.handleObject(method, target, body, res));
      return;
    }
    if (target && target.name === undefined && method === 'GET' && !watch && !this.collections.has(path)) {
      const items = [...(this.collections.get(target.collection)?.values() ?? [])].filter(
        (o) => o.metadata.namespace === target.namespace,
      );
      this.reply(res, 200, listOf(items, this.rv));
      return;
    }
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
      res.end(JSON.stringify(listOf(items, this.rv)));
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

  private reply(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private readJson(req: IncomingMessage, then: (body: KubeObject | undefined) => void): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: KubeObject | undefined;
      try {
        body = text ? (JSON.parse(text) as KubeObject) : undefined;
      } catch {
        body = undefined;
      }
      then(body);
    });
  }

  /** GET/PUT/DELETE of one object, POST to a namespaced collection. */
  private handleObject(method: string, t: Target, body: KubeObject | undefined, res: ServerResponse): void {
    const key = `${t.namespace ?? ''}/${t.name ?? body?.metadata?.name ?? ''}`;
    const stored = this.collections.get(t.collection)?.get(key);
    const what = `${t.collection.split('/').pop() ?? ''} "${key}"`;
    if (method === 'GET' || method === 'DELETE') {
      if (!stored) return this.reply(res, 404, status(404, 'NotFound', `${what} not found`));
      if (method === 'DELETE') this.remove(t.collection, t.namespace, stored.metadata.name);
      return this.reply(res, 200, stored);
    }
    if (method !== 'POST' && method !== 'PUT')
      return this.reply(res, 405, status(405, 'MethodNotAllowed', `${method} is not supported`));
    const name = t.name ?? body?.metadata?.name;
    if (!body || typeof body.metadata !== 'object' || body.metadata.name !== name || !name)
      return this.reply(
        res,
        400,
        status(400, 'BadRequest', `the body's metadata.name must be "${name ?? ''}"`),
      );
    if ((body.metadata.namespace ?? t.namespace) !== t.namespace)
      return this.reply(
        res,
        400,
        status(400, 'BadRequest', `the body's metadata.namespace must be "${t.namespace ?? ''}"`),
      );
    const object: KubeObject = { ...body, metadata: { ...body.metadata, namespace: t.namespace } };
    if (t.namespace === undefined) delete object.metadata.namespace;
    if (method === 'POST') {
      if (stored) return this.reply(res, 409, status(409, 'AlreadyExists', `${what} already exists`));
      delete object.metadata.resourceVersion;
      return this.reply(res, 201, this.add(t.collection, object));
    }
    if (!stored) return this.reply(res, 404, status(404, 'NotFound', `${what} not found`));
    const rv = body.metadata.resourceVersion;
    if (rv !== undefined && rv !== stored.metadata.resourceVersion)
      return this.reply(
        res,
        409,
        status(409, 'Conflict', `Operation cannot be fulfilled on ${what}: the object has been modified`),
      );
    return this.reply(res, 200, this.modify(t.collection, object));
  }
}
