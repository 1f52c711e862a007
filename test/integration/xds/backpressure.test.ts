import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { serializeDeltaRequest } from '../../../src/xds/grpc-services.js';
import { DELTA_ADS_PATH } from '../../../src/xds/type-urls.js';
import { formatNodeId } from '../../../src/xds/node-id.js';
import { ADDRESS_TYPE_URL } from '../../../src/xds/type-urls.js';
import { RecordingClient, eventually, startServer, uidOf, workload } from './harness.js';

const PODS = 100;
/** About 8 KiB per workload, so that one full push (~800 KiB) exceeds the HTTP/2 windows. */
const PADDING = 'x'.repeat(8 * 1024);

function round(r: number): Array<{ name: string; message: object }> {
  return Array.from({ length: PODS }, (_, i) => ({
    name: uidOf(i),
    message: workload(i, { canonicalRevision: `rev-${r}`, hostname: PADDING }),
  }));
}

test('a client that stops reading costs a bounded dirty set, not a queue of updates', async () => {
  const { server, port } = await startServer({ maxResponseBytes: 64 * 1024 });
  server.apply(ADDRESS_TYPE_URL, { upserts: round(0), removals: [] });
  server.flushNow();

  // The slow client: a bare HTTP/2 gRPC call that subscribes and then never reads a byte, so HTTP/2
  // flow control stops the server's writes (grpc-js's own client would buffer without bound).
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const slow = session.request({
    ':method': 'POST',
    ':path': DELTA_ADS_PATH,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  slow.on('error', () => {});
  slow.pause();
  const body = serializeDeltaRequest({
    node: { id: formatNodeId('ztunnel', '10.0.0.2', 'slow', 'istio-system') },
    typeUrl: ADDRESS_TYPE_URL,
  });
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  body.copy(frame, 5);
  slow.write(frame);
  const fast = new RecordingClient(port, { pod: 'fast' }).start();
  try {
    await eventually(() => server.connections().length === 2);
    const slowInfo = (): ReturnType<typeof server.connections>[number] | undefined =>
      server.connections().find((c) => c.node.podName === 'slow');

    const ROUNDS = 30;
    for (let r = 1; r <= ROUNDS; r++) {
      server.apply(ADDRESS_TYPE_URL, { upserts: round(r), removals: [] });
      server.flushNow();
      await new Promise((resolve) => setImmediate(resolve));
    }
    // The reading client converges on the last round.
    await fast.until(
      () => fast.addresses.get(uidOf(PODS - 1))?.workload?.canonicalRevision === `rev-${ROUNDS}`,
      15_000,
    );

    const info = slowInfo();
    assert.ok(info, 'slow connection still open');
    assert.equal(info.writePending, true, 'the slow client really is not reading');
    assert.ok(info.queueDepth <= PODS, `queue depth ${info.queueDepth} is bounded by the ${PODS} resources`);
    const pushedBytes = ROUNDS * PODS * PADDING.length;
    assert.ok(
      info.bytesSent < pushedBytes / 4,
      `slow client was handed ${info.bytesSent} bytes, far less than the ${pushedBytes} of all rounds`,
    );
  } finally {
    fast.close();
    slow.close();
    session.destroy();
    await server.stop(500);
  }
});
