import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * The sample echo app: answers every request with what it saw — method, path, headers, the peer
 * address — as JSON. `/status/{code}` answers with that status, `/delay/{seconds}` waits first,
 * `/bytes/{n}` returns n bytes. Used by the demo and the local cluster's `echo` deployment.
 */
export interface EchoOptions {
  port: number;
  host?: string;
  /** Name reported in the `x-served-by` header and the body (the pod name in the cluster). */
  name?: string;
  /** PEM files: with both, the app speaks HTTPS (its own TLS, e.g. behind a passthrough gateway). */
  tlsCert?: string;
  tlsKey?: string;
}

const MAX_BYTES = 100 * 1024 * 1024;
/**
 * `/bytes/{n}` is written from this one shared slab, 1 MiB at a time with backpressure: allocating
 * and filling n bytes per request (and writing them as one buffer) held a 64 MiB response to
 * ~100 MB/s on loopback, which made the bulk benchmark measure the app instead of the path.
 */
const SLAB = Buffer.alloc(1024 * 1024, 0x61);

function writeBytes(res: ServerResponse, n: number): void {
  let left = n;
  const more = (): void => {
    while (left > 0) {
      const k = Math.min(left, SLAB.length);
      left -= k;
      if (!res.write(k === SLAB.length ? SLAB : SLAB.subarray(0, k)) && left > 0) {
        res.once('drain', more);
        return;
      }
    }
    res.end();
  };
  more();
}

export function handleEcho(name: string, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const parts = url.pathname.split('/').filter(Boolean);
  res.setHeader('x-served-by', name);
  const send = (code: number, body: unknown): void => {
    const text = `${JSON.stringify(body, null, 2)}\n`;
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  const describe = () => ({
    servedBy: name,
    method: req.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: req.headers,
    peer: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
  });
  if (parts[0] === 'status' && parts[1] !== undefined) {
    const code = Number(parts[1]);
    if (!Number.isInteger(code) || code < 200 || code > 599)
      return send(400, { error: 'status must be 200..599' });
    return send(code, describe());
  }
  if (parts[0] === 'delay' && parts[1] !== undefined) {
    const s = Number(parts[1]);
    if (!(s >= 0 && s <= 60)) return send(400, { error: 'delay must be 0..60 seconds' });
    setTimeout(() => send(200, describe()), s * 1000);
    return;
  }
  if (parts[0] === 'bytes' && parts[1] !== undefined) {
    const n = Number(parts[1]);
    if (!Number.isInteger(n) || n < 0 || n > MAX_BYTES)
      return send(400, { error: `bytes must be 0..${MAX_BYTES}` });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
    writeBytes(res, n);
    return;
  }
  // Drain any request body, then answer.
  req.resume();
  req.on('end', () => send(200, describe()));
}

export async function startEcho(
  opts: EchoOptions,
): Promise<{ server: http.Server | https.Server; port: number }> {
  const name = opts.name ?? 'echo';
  const handler = (req: IncomingMessage, res: ServerResponse): void => handleEcho(name, req, res);
  const server =
    opts.tlsCert && opts.tlsKey
      ? https.createServer({ cert: readFileSync(opts.tlsCert), key: readFileSync(opts.tlsKey) }, handler)
      : http.createServer(handler);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
