/**
 * The minimum of a Kubernetes API client the configuration source needs: where the API server is and
 * how to authenticate (a kubeconfig file's current context, or the in-cluster service account),
 * GET requests returning a JSON body or a response stream, and `kubeRequest` for writes.
 *
 * Why not @kubernetes/client-node: its 2.x line loads undici 8, which needs Node >= 22.19 and throws on
 * import under Node 20 (this project's engine). See docs/configuration.md.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { MeshError } from '../../common/errors.js';

export interface KubeEndpoint {
  /** e.g. `https://10.96.0.1:443` */
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  /** Re-read on each request (projected service-account tokens rotate). */
  tokenFile?: string;
  insecureSkipTlsVerify?: boolean;
}

/** An HTTP error from the API server; `statusCode` 410 means the resourceVersion is too old. */
export class KubeHttpError extends MeshError {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super('CFG_ERR_KUBE_HTTP', message);
  }
}

type Named<T> = { name: string } & T;
interface KubeconfigFile {
  'current-context'?: string;
  clusters?: Named<{ cluster?: Record<string, string | boolean> }>[];
  users?: Named<{ user?: Record<string, string> }>[];
  contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
}

function fileOrData(base: string, file: unknown, data: unknown): Buffer | undefined {
  if (typeof data === 'string') return Buffer.from(data, 'base64');
  if (typeof file === 'string') return readFileSync(resolve(base, file));
  return undefined;
}

/** Reads a kubeconfig file and returns its current context's cluster and user. */
export function loadKubeconfig(path: string): KubeEndpoint {
  const kc = parse(readFileSync(path, 'utf8')) as KubeconfigFile;
  const base = dirname(path);
  const ctxName = kc['current-context'];
  const ctx = kc.contexts?.find((c) => c.name === ctxName)?.context;
  const cluster = kc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster;
  if (!ctx || !cluster || typeof cluster.server !== 'string')
    throw new MeshError(
      'CFG_ERR_KUBECONFIG',
      `${path}: no cluster for current-context "${ctxName ?? ''}"; check the file`,
    );
  const user = kc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  return {
    server: cluster.server,
    ca: fileOrData(base, cluster['certificate-authority'], cluster['certificate-authority-data']),
    cert: fileOrData(base, user['client-certificate'], user['client-certificate-data']),
    key: fileOrData(base, user['client-key'], user['client-key-data']),
    token: user.token,
    tokenFile: user.tokenFile ? resolve(base, user.tokenFile) : undefined,
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
  };
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The in-cluster endpoint: KUBERNETES_SERVICE_HOST/PORT and the mounted service-account token and CA. */
export function inClusterEndpoint(env = process.env): KubeEndpoint {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host)
    throw new MeshError(
      'CFG_ERR_KUBECONFIG',
      'not running in a cluster (KUBERNETES_SERVICE_HOST is unset); give a kubeconfig file instead',
    );
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { server, ca: readFileSync(`${SA_DIR}/ca.crt`), tokenFile: `${SA_DIR}/token` };
}

/** GET `path`; resolves with the response once headers arrive (any status). */
export function kubeGet(ep: KubeEndpoint, path: string, signal?: AbortSignal): Promise<IncomingMessage> {
  return send(ep, 'GET', path, undefined, { signal });
}

function send(
  ep: KubeEndpoint,
  method: string,
  path: string,
  body: string | undefined,
  opts: { signal?: AbortSignal; timeoutMs?: number },
): Promise<IncomingMessage> {
  const url = new URL(ep.server.replace(/\/$/, '') + path);
  const token = ep.tokenFile ? readFileSync(ep.tokenFile, 'utf8').trim() : ep.token;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  const https = url.protocol === 'https:';
  const req = (https ? httpsRequest : httpRequest)(url, {
    method,
    headers,
    signal: opts.signal,
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
    ...(https
      ? { ca: ep.ca, cert: ep.cert, key: ep.key, rejectUnauthorized: !ep.insecureSkipTlsVerify }
      : {}),
  });
  return new Promise((resolvePromise, reject) => {
    req.once('response', resolvePromise);
    req.once('error', reject);
    req.once('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.end(body);
  });
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** GET `path` expecting 200 and JSON; other statuses become a KubeHttpError with the Status message. */
export async function kubeGetJson<T>(ep: KubeEndpoint, path: string): Promise<T> {
  const res = await kubeGet(ep, path);
  const text = await readBody(res);
  if (res.statusCode !== 200) throw statusError(res.statusCode ?? 0, path, text);
  return JSON.parse(text) as T;
}

/** The answer to a write: the status (any) and the body parsed as JSON (undefined when it is not JSON). */
export interface KubeResponse<T> {
  status: number;
  body: T | undefined;
  text: string;
}

/**
 * One request with a JSON body (POST/PUT/DELETE, or GET) that resolves with any status: callers decide
 * what 404 or 409 mean. Network failures and the timeout (default 10 s) reject.
 */
export async function kubeRequest<T>(
  ep: KubeEndpoint,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
  opts: { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<KubeResponse<T>> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const res = await send(ep, method, path, payload, { timeoutMs: 10_000, ...opts });
  const text = await readBody(res);
  let parsed: T | undefined;
  try {
    parsed = text ? (JSON.parse(text) as T) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode ?? 0, body: parsed, text };
}

export function statusError(status: number, path: string, text: string, method = 'GET'): KubeHttpError {
  let detail = text.slice(0, 200);
  try {
    detail = (JSON.parse(text) as { message?: string }).message ?? detail;
  } catch {
    // not a Status object; keep the text
  }
  return new KubeHttpError(status, `${method} ${path}: HTTP ${status}: ${detail}`);
}
