/**
 * The project's access to the Kubernetes API, on @kubernetes/client-node: loading a kubeconfig (a file's
 * current context, or the in-cluster service account), per-request abort/timeout and connection reuse
 * for the generated API clients, a raw list of any collection for the informers, and one error type
 * (`KubeHttpError`, with the HTTP status and the API server's Status message) for all of them.
 */
import {
  ApiException,
  HttpMethod,
  KubeConfig,
  RequestContext,
  Observable,
  type ObservableMiddleware,
  type Cluster,
  type ConfigurationOptions,
  type User,
} from '@kubernetes/client-node';
import { fetch, type Dispatcher } from 'undici';
import { MeshError } from '../../common/errors.js';

export type { KubeConfig } from '@kubernetes/client-node';

/** An HTTP error from the API server; `statusCode` 410 means the resourceVersion is too old. */
export class KubeHttpError extends MeshError {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super('CFG_ERR_KUBE_HTTP', message);
  }
}

function checked(kc: KubeConfig, where: string): KubeConfig {
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server)
    throw new MeshError(
      'CFG_ERR_KUBECONFIG',
      `${where}: no cluster for current-context "${kc.getCurrentContext() ?? ''}"; check the file`,
    );
  return kc;
}

/**
 * A kubeconfig file (its current context), an already loaded KubeConfig, or — with nothing — the
 * in-cluster service account (KUBERNETES_SERVICE_HOST/PORT, the mounted token, re-read as it rotates).
 */
export function loadKubeConfig(from?: KubeConfig | string, env = process.env): KubeConfig {
  if (from instanceof KubeConfig) return checked(from, 'kubeconfig');
  const kc = new KubeConfig();
  if (typeof from === 'string') {
    try {
      kc.loadFromFile(from); // relative certificate/key paths are taken relative to the file
    } catch (err) {
      throw new MeshError(
        'CFG_ERR_KUBECONFIG',
        `${from}: not a readable kubeconfig file (${(err as Error).message}); check the path and its YAML`,
      );
    }
    return checked(kc, from);
  }
  if (!env.KUBERNETES_SERVICE_HOST)
    throw new MeshError(
      'CFG_ERR_KUBECONFIG',
      'not running in a cluster (KUBERNETES_SERVICE_HOST is unset); give a kubeconfig file instead',
    );
  // The local cluster's kubelet role runs containers without a mount namespace of their own: the
  // service-account files are under the pod's root directory it names (empty on a real node).
  kc.loadFromCluster(env.MESHLITE_POD_ROOT ?? '');
  return checked(kc, 'in-cluster service account');
}

/** A KubeConfig for one API server URL (tests, and callers that have no kubeconfig file). */
export function kubeConfigFor(
  server: string,
  user: Partial<User> = {},
  cluster: Partial<Cluster> = {},
): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    { skipTLSVerify: false, ...cluster, name: 'cluster', server },
    { ...user, name: 'user' },
  );
  return kc;
}

export function serverOf(kc: KubeConfig): string {
  return kc.getCurrentCluster()?.server ?? '';
}

/**
 * client-node builds a new HTTP dispatcher (connection pool) for every request; one per KubeConfig
 * is kept here, so requests reuse their connections (and TLS sessions) to the API server.
 */
const dispatchers = new WeakMap<KubeConfig, Dispatcher>();

function sharedDispatcher(kc: KubeConfig, ctx: RequestContext): Dispatcher | undefined {
  let d = dispatchers.get(kc);
  if (!d) {
    d = ctx.getDispatcher();
    if (d) dispatchers.set(kc, d);
  }
  return d;
}

/** Options for one generated-API call: the shared connection pool, and `signal` (abort or timeout). */
export function requestOptions(kc: KubeConfig, signal?: AbortSignal): ConfigurationOptions {
  const mw: ObservableMiddleware = {
    pre: (ctx) => {
      const d = sharedDispatcher(kc, ctx);
      if (d) ctx.setDispatcher(d);
      if (signal) ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (rsp) => new Observable(Promise.resolve(rsp)),
  };
  return { middleware: [mw], middlewareMergeStrategy: 'append' };
}

/** `signal` (when given) and a timeout, whichever fires first. */
export function deadline(timeoutMs: number, signal?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, t]) : t;
}

function statusMessage(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.slice(0, 200) || undefined;
    }
  }
  const m = (parsed as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m : undefined;
}

/**
 * The HTTP status of a failed call: client-node's ApiException (generated APIs), a watch's error
 * (`statusCode`), or a KubeHttpError; undefined for network failures.
 */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof KubeHttpError) return err.statusCode;
  if (err instanceof ApiException) return err.code;
  const s = (err as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** Any failure of a call as an Error whose message names the request; HTTP ones as KubeHttpError. */
export function kubeError(err: unknown, what: string): Error {
  if (err instanceof KubeHttpError) return err;
  if (err instanceof ApiException) {
    const detail = statusMessage(err.body) ?? 'no message';
    return new KubeHttpError(err.code, `${what}: HTTP ${err.code}: ${detail}`);
  }
  const code = statusOf(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (code !== undefined) return new KubeHttpError(code, `${what}: HTTP ${code}: ${msg}`);
  const cause = (err as { cause?: { message?: string } } | undefined)?.cause?.message;
  return new Error(`${what}: ${msg}${cause ? ` (${cause})` : ''}`);
}

export interface RawList<T> {
  metadata?: { resourceVersion?: string };
  items?: T[];
}

/**
 * GET a collection (`/api/v1/pods`, `/apis/<group>/<version>/<plural>`) as raw JSON, with the
 * KubeConfig's credentials and TLS. The generated list calls would turn the objects into client-node's
 * model classes (dates as Date, unknown fields dropped); the mesh validates the objects as the API server
 * serves them, like the watch events that follow the list.
 */
export async function listCollection<T>(
  kc: KubeConfig,
  path: string,
  signal?: AbortSignal,
): Promise<RawList<T>> {
  const ctx = new RequestContext(serverOf(kc).replace(/\/$/, '') + path, HttpMethod.GET);
  ctx.setHeaderParam('Accept', 'application/json');
  await kc.applySecurityAuthentication(ctx);
  let res;
  try {
    res = await fetch(ctx.getUrl(), {
      headers: ctx.getHeaders(),
      dispatcher: sharedDispatcher(kc, ctx),
      signal,
    });
  } catch (err) {
    throw kubeError(err, `GET ${path}`);
  }
  const text = await res.text();
  if (res.status !== 200)
    throw new KubeHttpError(
      res.status,
      `GET ${path}: HTTP ${res.status}: ${statusMessage(text) ?? 'no message'}`,
    );
  const list = JSON.parse(text) as RawList<T> & { kind?: string; apiVersion?: string };
  // The API server leaves kind and apiVersion out of a list's items (watch events carry them): put
  // them back from the list's own (`PodList`, `v1`), as client-go's informers do.
  const kind = list.kind?.endsWith('List') ? list.kind.slice(0, -'List'.length) : undefined;
  if (kind)
    for (const item of list.items ?? []) {
      const o = item as { kind?: string; apiVersion?: string };
      o.kind ??= kind;
      o.apiVersion ??= list.apiVersion;
    }
  return list;
}

/**
 * One request with a raw JSON body and answer (POST, PUT, PATCH, DELETE, GET), with the KubeConfig's
 * credentials and TLS: for objects the typed clients would pass through their models (which drop what
 * they do not name, e.g. a v1beta1 EndpointSlice's `topology`). Non-2xx answers throw KubeHttpError.
 */
export async function requestJson<T = unknown>(
  kc: KubeConfig,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  path: string,
  body?: unknown,
  opts: { contentType?: string; timeoutMs?: number } = {},
): Promise<T> {
  const ctx = new RequestContext(serverOf(kc).replace(/\/$/, '') + path, HttpMethod[method]);
  ctx.setHeaderParam('Accept', 'application/json');
  if (body !== undefined) ctx.setHeaderParam('Content-Type', opts.contentType ?? 'application/json');
  await kc.applySecurityAuthentication(ctx);
  let res;
  try {
    res = await fetch(ctx.getUrl(), {
      method,
      headers: ctx.getHeaders(),
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: sharedDispatcher(kc, ctx),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    });
  } catch (err) {
    throw kubeError(err, `${method} ${path}`);
  }
  const text = await res.text();
  if (res.status < 200 || res.status >= 300)
    throw new KubeHttpError(
      res.status,
      `${method} ${path}: HTTP ${res.status}: ${statusMessage(text) ?? 'no message'}`,
    );
  return (text ? JSON.parse(text) : undefined) as T;
}
