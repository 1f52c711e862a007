/**
 * The running cluster's control socket (`<state>/control.sock`): how meshctl asks the `meshctl up`
 * process, which owns the cluster's processes, for an operation on them. One JSON request per
 * connection; the answer is progress lines, then one line `{"done":true,"ok":bool,"message":...}`.
 */
import net from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface ControlRequest {
  op: 'rollout-restart';
  target: 'ztunnel' | 'deployment';
  /** ztunnel: one node (default: every node, one after the other). */
  node?: string;
  /** deployment: its name and namespace. */
  name?: string;
  namespace?: string;
}

export type ControlHandler = (req: ControlRequest, progress: (line: string) => void) => Promise<string>;

export const controlSocketPath = (stateDir: string): string => join(stateDir, 'control.sock');

export function parseControlRequest(line: string): ControlRequest | string {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return 'the request is not JSON';
  }
  const r = v as Partial<ControlRequest>;
  if (r.op !== 'rollout-restart') return `unknown operation ${JSON.stringify(r.op)}`;
  if (r.target === 'deployment') {
    if (typeof r.name !== 'string' || !r.name) return 'deployment: name must be a non-empty string';
    if (r.namespace !== undefined && typeof r.namespace !== 'string') return 'namespace must be a string';
    return { op: r.op, target: r.target, name: r.name, namespace: r.namespace || 'default' };
  }
  if (r.target !== 'ztunnel')
    return `cannot restart ${JSON.stringify(r.target)}: only ztunnel or a deployment`;
  if (r.node !== undefined && typeof r.node !== 'string') return 'node must be a string';
  return { op: r.op, target: r.target, ...(r.node ? { node: r.node } : {}) };
}

/** Serves the control socket; resolves once it listens. */
export async function serveControl(stateDir: string, handle: ControlHandler): Promise<net.Server> {
  const path = controlSocketPath(stateDir);
  await rm(path, { force: true });
  const server = net.createServer((conn) => {
    conn.on('error', () => undefined);
    const send = (o: object): void => void conn.write(`${JSON.stringify(o)}\n`);
    createInterface({ input: conn }).once('line', (line) => {
      const req = parseControlRequest(line);
      if (typeof req === 'string') {
        send({ done: true, ok: false, message: req });
        conn.end();
        return;
      }
      handle(req, (l) => send({ progress: l }))
        .then(
          (message) => send({ done: true, ok: true, message }),
          (err: unknown) =>
            send({ done: true, ok: false, message: err instanceof Error ? err.message : String(err) }),
        )
        .finally(() => conn.end());
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(path, () => res());
  });
  server.unref();
  return server;
}

/** Sends one request; `onProgress` gets each progress line; resolves with the final answer. */
export function callControl(
  stateDir: string,
  req: ControlRequest,
  onProgress: (line: string) => void,
): Promise<{ ok: boolean; message: string }> {
  return new Promise((resolve, reject) => {
    const conn = net.connect(controlSocketPath(stateDir));
    let done: { ok: boolean; message: string } | undefined;
    conn.once('error', (err) =>
      reject(new Error(`cannot reach the cluster's control socket (${err.message}); is meshctl up running?`)),
    );
    conn.once('connect', () => conn.write(`${JSON.stringify(req)}\n`));
    createInterface({ input: conn }).on('line', (line) => {
      const m = JSON.parse(line) as { progress?: string; done?: boolean; ok?: boolean; message?: string };
      if (m.progress !== undefined) onProgress(m.progress);
      if (m.done) done = { ok: m.ok === true, message: m.message ?? '' };
    });
    conn.once('close', () =>
      done ? resolve(done) : reject(new Error('the cluster closed the control socket without an answer')),
    );
  });
}
