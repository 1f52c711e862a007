import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDRESS_TYPE_URL } from '../../../src/xds/type-urls.js';
import { RecordingClient, eventually, startServer, uidOf, workload } from './harness.js';

test('a reconnecting client sends its versions; only differences come back', async () => {
  const first = await startServer();
  const port = first.port;
  first.server.apply(ADDRESS_TYPE_URL, {
    upserts: [0, 1, 2].map((i) => ({ name: uidOf(i), message: workload(i) })),
    removals: [],
  });
  first.server.flushNow();
  const c = new RecordingClient(port).start();
  let second: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    await c.until(() => c.addresses.size === 3);
    await first.server.stop();
    await eventually(() => !c.client.connected || c.client.stats.connects > 1);

    // istiod comes back on the same port; pod-1 changed and pod-2 is gone meanwhile.
    second = await startServer({ port });
    second.server.apply(ADDRESS_TYPE_URL, {
      upserts: [
        { name: uidOf(0), message: workload(0) },
        { name: uidOf(1), message: workload(1, { node: 'node-2' }) },
      ],
      removals: [],
    });
    second.server.flushNow();
    const before = c.addressEvents().length;
    await c.until(() => c.addresses.get(uidOf(1))?.workload?.node === 'node-2', 10_000);
    await c.until(() => !c.addresses.has(uidOf(2)));
    const after = c.addressEvents().slice(before);
    const upserted = after.flatMap((e) => e.upserted);
    const removed = after.flatMap((e) => e.removed);
    assert.deepEqual(upserted, [uidOf(1)], 'unchanged pod-0 is not resent');
    assert.deepEqual(removed, [uidOf(2)]);
    assert.ok(c.client.stats.connects >= 2);
  } finally {
    c.close();
    await first.server.stop();
    await second?.server.stop();
  }
});
