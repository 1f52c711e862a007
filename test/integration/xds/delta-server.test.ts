import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../src/xds/type-urls.js';
import {
  RecordingClient,
  eventually,
  histogramCount,
  metricValue,
  startServer,
  uidOf,
  workload,
} from './harness.js';

test('initial sync delivers every resource of both types', async () => {
  const { server, port, registry } = await startServer();
  server.apply(ADDRESS_TYPE_URL, {
    upserts: [0, 1, 2].map((i) => ({ name: uidOf(i), message: workload(i) })),
    removals: [],
  });
  server.apply(AUTHORIZATION_TYPE_URL, {
    upserts: [{ name: 'default/deny-all', message: { name: 'deny-all', namespace: 'default', action: 1 } }],
    removals: [],
  });
  server.flushNow();
  const c = new RecordingClient(port).start();
  try {
    await c.until(() => c.addresses.size === 3 && c.client.versions(AUTHORIZATION_TYPE_URL).size === 1);
    assert.equal(c.addresses.get(uidOf(1))?.workload?.name, 'pod-1');
    assert.deepEqual([...(c.addresses.get(uidOf(2))?.workload?.addresses?.[0] ?? [])], [10, 0, 0, 2]);
    await c.until(() => c.client.stats.acks === 2);
    assert.equal(await metricValue(registry, 'pilot_xds'), 1);
  } finally {
    c.close();
    await server.stop();
  }
});

test('a change sends only the changed resource; a removal arrives in removed_resources', async () => {
  const { server, port, registry } = await startServer();
  server.apply(ADDRESS_TYPE_URL, {
    upserts: [0, 1, 2].map((i) => ({ name: uidOf(i), message: workload(i) })),
    removals: [],
  });
  server.flushNow();
  const c = new RecordingClient(port).start();
  try {
    await c.until(() => c.addresses.size === 3);
    const before = c.addressEvents().length;
    server.apply(ADDRESS_TYPE_URL, {
      upserts: [
        { name: uidOf(0), message: workload(0) }, // same content: not a change
        { name: uidOf(1), message: workload(1, { serviceAccount: 'other' }) },
      ],
      removals: [],
    });
    await c.until(() => c.addressEvents().length > before);
    const change = c.addressEvents()[before];
    assert.deepEqual(change?.upserted, [uidOf(1)]);
    assert.deepEqual(change?.removed, []);
    assert.equal(c.addresses.get(uidOf(1))?.workload?.serviceAccount, 'other');

    server.apply(ADDRESS_TYPE_URL, { upserts: [], removals: [uidOf(2)] });
    await c.until(() => !c.addresses.has(uidOf(2)));
    const removal = c.addressEvents().at(-1);
    assert.deepEqual(removal?.removed, [uidOf(2)]);
    assert.deepEqual(removal?.upserted, []);
    await c.until(() => c.client.stats.acks === c.client.stats.responses);
    assert.ok((await metricValue(registry, 'pilot_xds_pushes', { type: 'address' })) >= 3);
    // Both changes were acknowledged, so both fed the convergence histogram (waited for generously: on a
    // loaded machine the second ACK can take a while to be counted).
    await eventually(
      async () => (await histogramCount(registry, 'pilot_proxy_convergence_time')) >= 2,
      20_000,
    );
  } finally {
    c.close();
    await server.stop();
  }
});

test('a NACK is counted and the rejected version is not resent until the config changes', async () => {
  const { server, port, registry } = await startServer();
  const c = new RecordingClient(port, {
    validate: (a) =>
      a.workload?.serviceAccount === 'bad' ? ['workload.service_account: "bad" is not allowed'] : [],
  }).start();
  try {
    server.apply(ADDRESS_TYPE_URL, { upserts: [{ name: uidOf(0), message: workload(0) }], removals: [] });
    await c.until(() => c.addresses.size === 1);
    server.apply(ADDRESS_TYPE_URL, {
      upserts: [{ name: uidOf(0), message: workload(0, { serviceAccount: 'bad' }) }],
      removals: [],
    });
    await c.until(() => c.client.stats.nacks === 1);
    const nack = c.addressEvents().at(-1);
    assert.equal(nack?.accepted, false);
    assert.match(nack?.errors[0] ?? '', /workload\.service_account/);
    await eventually(async () => (await metricValue(registry, 'pilot_total_xds_rejects')) > 0);
    assert.equal(await metricValue(registry, 'pilot_total_xds_rejects', { type: 'address' }), 1);
    assert.equal(
      c.addresses.get(uidOf(0))?.workload?.serviceAccount,
      'sa',
      'the rejected update was not applied',
    );

    // An unrelated change: only that resource is sent, the rejected one is not repeated.
    const before = c.addressEvents().length;
    server.apply(ADDRESS_TYPE_URL, { upserts: [{ name: uidOf(1), message: workload(1) }], removals: [] });
    await c.until(() => c.addressEvents().length > before);
    assert.deepEqual(c.addressEvents()[before]?.upserted, [uidOf(1)]);
    assert.equal(c.client.stats.nacks, 1);

    // Fixing the config sends the resource again.
    server.apply(ADDRESS_TYPE_URL, {
      upserts: [{ name: uidOf(0), message: workload(0, { serviceAccount: 'good' }) }],
      removals: [],
    });
    await c.until(() => c.addresses.get(uidOf(0))?.workload?.serviceAccount === 'good');
  } finally {
    c.close();
    await server.stop();
  }
});

test('several changes inside the debounce window arrive as one response', async () => {
  const { server, port } = await startServer({ debounce: { quietMs: 100, maxMs: 5000 } });
  server.apply(ADDRESS_TYPE_URL, { upserts: [{ name: uidOf(0), message: workload(0) }], removals: [] });
  server.flushNow();
  const c = new RecordingClient(port).start();
  try {
    await c.until(() => c.addresses.size === 1);
    const before = c.addressEvents().length;
    for (let i = 1; i <= 5; i++) {
      server.apply(ADDRESS_TYPE_URL, { upserts: [{ name: uidOf(i), message: workload(i) }], removals: [] });
    }
    await c.until(() => c.addresses.size === 6);
    const after = c.addressEvents().slice(before);
    assert.equal(after.length, 1);
    assert.deepEqual([...(after[0]?.upserted ?? [])].sort(), [1, 2, 3, 4, 5].map(uidOf).sort());
  } finally {
    c.close();
    await server.stop();
  }
});
