/**
 * Raw JSON calls to the API server with a KubeConfig's credentials and TLS (the kubelet role and the
 * node agent speak to the API as JSON, as it serves it, without client-node's model classes).
 */
import { HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { KubeHttpError, kubeError, serverOf } from '../istiod/config/kube-client.js';

export type KubeMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

const CONTENT: Record<string, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json',
};

/** One request; the decoded JSON answer, or undefined for 404 when `allow404`. */
export async function kubeRequest<T = Record<string, unknown>>(
  kc: KubeConfig,
  method: KubeMethod,
  path: string,
  body?: unknown,
  opts: { patch?: 'merge' | 'strategic'; allow404?: boolean; timeoutMs?: number } = {},
): Promise<T | undefined> {
  const ctx = new RequestContext(serverOf(kc).replace(/\/$/, '') + path, HttpMethod[method]);
  ctx.setHeaderParam('Accept', 'application/json');
  if (body !== undefined) ctx.setHeaderParam('Content-Type', CONTENT[opts.patch ?? 'json']!);
  await kc.applySecurityAuthentication(ctx);
  let res;
  try {
    res = await fetch(ctx.getUrl(), {
      method,
      headers: ctx.getHeaders(),
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: ctx.getDispatcher(),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000),
    });
  } catch (err) {
    throw kubeError(err, `${method} ${path}`);
  }
  const text = await res.text();
  if (res.status === 404 && opts.allow404) return undefined;
  if (res.status >= 300) {
    let message = text.slice(0, 300);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON: the text itself
    }
    throw new KubeHttpError(res.status, `${method} ${path}: HTTP ${res.status}: ${message}`);
  }
  return text ? (JSON.parse(text) as T) : undefined;
}
