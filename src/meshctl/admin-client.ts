/**
 * Reads the JSON and text endpoints of the mesh's local HTTP ports (ztunnel admin 15000, istiod
 * monitoring 15014). One request per call, no keep-alive, so a command exits as soon as it is done.
 */
import http from 'node:http';
import { MeshError, errorMessage } from '../common/errors.js';

export interface Endpoint {
  host: string;
  port: number;
}

export function formatEndpoint(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** GET `path` on `e`; resolves to the body of a 200 answer, else rejects with a MeshError. */
export function httpGetText(e: Endpoint, path: string, timeoutMs: number): Promise<string> {
  const where = `GET ${path}`;
  return new Promise((resolve, reject) => {
    const req = http.get({ host: e.host, port: e.port, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) =>
        reject(new MeshError('MESHCTL_ERR_UNREACHABLE', `${where}: ${err.message}`, { cause: err })),
      );
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) return resolve(body);
        reject(
          new MeshError(
            'MESHCTL_ERR_HTTP_STATUS',
            `${where} answered ${res.statusCode ?? '?'}: ${body.trim().slice(0, 200)}`,
          ),
        );
      });
    });
    req.on('timeout', () =>
      req.destroy(new MeshError('MESHCTL_ERR_TIMEOUT', `no answer within ${timeoutMs} ms`)),
    );
    req.on('error', (err) => {
      const code = err instanceof MeshError ? err.code : 'MESHCTL_ERR_UNREACHABLE';
      reject(new MeshError(code, `${where}: ${errorMessage(err)}`, { cause: err }));
    });
  });
}

export async function httpGetJson(e: Endpoint, path: string, timeoutMs: number): Promise<unknown> {
  const text = await httpGetText(e, path, timeoutMs);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new MeshError(
      'MESHCTL_ERR_BAD_RESPONSE',
      `GET ${path} did not answer JSON (${errorMessage(err)}); is that the right port?`,
      { cause: err },
    );
  }
}
