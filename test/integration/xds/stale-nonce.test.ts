import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { openDeltaStream, type ReceivedDeltaResponse } from '../../../src/xds/grpc-services.js';
import { formatNodeId } from '../../../src/xds/node-id.js';
import { ADDRESS_TYPE_URL } from '../../../src/xds/type-urls.js';
import { eventually, metricValue, startServer, uidOf, workload } from './harness.js';

test('requests with a stale nonce are ignored; the latest nonce is honoured', async () => {
  const { server, port, registry } = await startServer();
  server.apply(ADDRESS_TYPE_URL, { upserts: [{ name: uidOf(0), message: workload(0) }], removals: [] });
  server.flushNow();
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = openDeltaStream(client);
  const received: ReceivedDeltaResponse[] = [];
  call.on('data', (r: ReceivedDeltaResponse) => received.push(r));
  call.on('error', () => {});
  try {
    call.write({
      node: { id: formatNodeId('ztunnel', '10.0.0.9', 'zt', 'istio-system') },
      typeUrl: ADDRESS_TYPE_URL,
    });
    await eventually(() => received.length === 1);
    const firstNonce = received[0]?.response.nonce ?? '';
    call.write({ typeUrl: ADDRESS_TYPE_URL, responseNonce: firstNonce });

    server.apply(ADDRESS_TYPE_URL, { upserts: [{ name: uidOf(1), message: workload(1) }], removals: [] });
    await eventually(() => received.length === 2);
    const secondNonce = received[1]?.response.nonce ?? '';
    assert.notEqual(secondNonce, firstNonce);

    // A NACK naming the older nonce: ignored (not a reject), counted as expired.
    call.write({
      typeUrl: ADDRESS_TYPE_URL,
      responseNonce: firstNonce,
      errorDetail: { code: 3, message: 'late complaint' },
    });
    await eventually(async () => (await metricValue(registry, 'pilot_xds_expired_nonce')) === 1);
    assert.equal(await metricValue(registry, 'pilot_total_xds_rejects'), 0);

    // The current nonce is still the one that counts.
    call.write({ typeUrl: ADDRESS_TYPE_URL, responseNonce: secondNonce });
    await eventually(() => server.connections()[0]?.acks === 2);
    assert.equal(server.connections()[0]?.nacks, 0);
    assert.equal(received.length, 2, 'nothing was resent');
  } finally {
    call.cancel();
    client.close();
    await server.stop();
  }
});

test('a stream whose first request has no valid node id is refused', async () => {
  const { server, port } = await startServer();
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = openDeltaStream(client);
  try {
    const status = await new Promise<grpc.ServiceError>((resolve) => {
      call.on('error', resolve);
      call.on('data', () => {});
      call.write({ node: { id: 'not-a-node-id' }, typeUrl: ADDRESS_TYPE_URL });
    });
    assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
    assert.match(status.details, /<type>~<ip>~<pod>\.<namespace>/);
    assert.equal(server.connections().length, 0);
  } finally {
    client.close();
    await server.stop();
  }
});
