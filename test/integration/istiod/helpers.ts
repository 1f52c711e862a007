import { Writable } from 'node:stream';
import { request } from 'node:http';
import { pino } from 'pino';
import type { Logger } from '../../../src/common/logger.js';
import { DeltaClient, type ResponseEvent, type TypeWatch } from '../../../src/xds/delta-client.js';
import { formatNodeId } from '../../../src/xds/node-id.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../src/xds/type-urls.js';
import type { Address } from '../../../src/xds/workload-types.js';
import type { Authorization } from '../../../src/xds/security-types.js';

/** A ztunnel-like delta client holding both types, with every response event recorded. */
export class MeshClient {
  readonly client: DeltaClient;
  readonly addresses = new Map<string, Address>();
  readonly authorizations = new Map<string, Authorization>();
  readonly events: ResponseEvent[] = [];

  constructor(port: number, pod = 'ztunnel-a') {
    const addressWatch: TypeWatch<Address> = {
      typeUrl: ADDRESS_TYPE_URL,
      onUpdate: (upserts, removals) => {
        for (const u of upserts) this.addresses.set(u.name, u.value);
        for (const r of removals) this.addresses.delete(r);
      },
    };
    const authzWatch: TypeWatch<Authorization> = {
      typeUrl: AUTHORIZATION_TYPE_URL,
      onUpdate: (upserts, removals) => {
        for (const u of upserts) this.authorizations.set(u.name, u.value);
        for (const r of removals) this.authorizations.delete(r);
      },
    };
    this.client = new DeltaClient({
      address: `127.0.0.1:${port}`,
      node: { id: formatNodeId('ztunnel', '10.0.0.1', pod, 'istio-system') },
      watches: [addressWatch as TypeWatch<unknown>, authzWatch as TypeWatch<unknown>],
      backoff: { initialMs: 10, maxMs: 200 },
      onResponse: (e) => this.events.push(e),
    });
  }

  start(): this {
    this.client.start();
    return this;
  }

  workload(ns: string, name: string): NonNullable<Address['workload']> | undefined {
    return this.addresses.get(`Kubernetes//Pod/${ns}/${name}`)?.workload;
  }

  close(): void {
    this.client.close();
  }
}

/** Polls `check` every 10 ms until it holds; fails naming `what` after `ms`. */
export async function waitFor(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** GET on loopback; resolves to status and body. */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A JSON logger whose lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as never);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}
