import { createRegistry } from '../../../src/common/metrics.js';
import { DeltaXdsServer, type DeltaXdsServerOptions } from '../../../src/istiod/xds/delta-server.js';
import { DeltaClient, type ResponseEvent, type TypeWatch } from '../../../src/xds/delta-client.js';
import { formatNodeId } from '../../../src/xds/node-id.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../src/xds/type-urls.js';
import type { Address, Workload } from '../../../src/xds/workload-types.js';
import type { Registry } from 'prom-client';

/** A running server on loopback with a fresh registry. */
export async function startServer(
  opts: Partial<DeltaXdsServerOptions> = {},
): Promise<{ server: DeltaXdsServer; port: number; registry: Registry }> {
  const registry = createRegistry('istiod');
  const server = new DeltaXdsServer({
    host: '127.0.0.1',
    port: 0,
    registry,
    debounce: { quietMs: 5, maxMs: 50 },
    ...opts,
  });
  const port = await server.start();
  return { server, port, registry };
}

export function workload(i: number, extra: Partial<Workload> = {}): Address {
  return {
    workload: {
      uid: `cluster1//v1/Pod/default/pod-${i}`,
      name: `pod-${i}`,
      namespace: 'default',
      addresses: [Uint8Array.of(10, 0, (i >> 8) & 255, i & 255)],
      tunnelProtocol: 1,
      serviceAccount: 'sa',
      node: 'node-1',
      ...extra,
    },
  };
}

export function uidOf(i: number): string {
  return `cluster1//v1/Pod/default/pod-${i}`;
}

/** A delta client that records what it holds and every response event. */
export class RecordingClient {
  readonly client: DeltaClient;
  readonly events: ResponseEvent[] = [];
  readonly addresses = new Map<string, Address>();
  private waiters: Array<() => void> = [];

  constructor(port: number, opts: { validate?: (a: Address, name: string) => string[]; pod?: string } = {}) {
    const addressWatch: TypeWatch<Address> = {
      typeUrl: ADDRESS_TYPE_URL,
      validate: opts.validate,
      onUpdate: (upserts, removals) => {
        for (const u of upserts) this.addresses.set(u.name, u.value);
        for (const r of removals) this.addresses.delete(r);
      },
    };
    const authzWatch: TypeWatch<unknown> = { typeUrl: AUTHORIZATION_TYPE_URL, onUpdate: () => {} };
    this.client = new DeltaClient({
      address: `127.0.0.1:${port}`,
      node: { id: formatNodeId('ztunnel', '10.0.0.1', opts.pod ?? 'ztunnel-a', 'istio-system') },
      watches: [addressWatch as TypeWatch<unknown>, authzWatch],
      backoff: { initialMs: 10, maxMs: 100 },
      onResponse: (e) => {
        this.events.push(e);
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      },
    });
  }

  start(): this {
    this.client.start();
    return this;
  }

  /** Resolves once `pred` holds, checked after each response (fails after `ms`). */
  async until(pred: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error('condition not reached in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        t.unref();
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  addressEvents(): ResponseEvent[] {
    return this.events.filter((e) => e.typeUrl === ADDRESS_TYPE_URL);
  }

  close(): void {
    this.client.close();
  }
}

export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  let sum = 0;
  for (const v of m?.values ?? []) {
    if (Object.entries(labels).every(([k, val]) => v.labels[k] === val)) sum += v.value;
  }
  return sum;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `pred` until it holds (fails after `ms`); for state on the server side. */
export async function eventually(pred: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

export async function histogramCount(registry: Registry, name: string): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) => (v as { metricName?: string }).metricName === `${name}_count`)?.value ?? 0;
}
