import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../../src/xds/codec.js';
import { encodeResource, frameDeltaResponse } from '../../../src/xds/frame.js';
import { ADDRESS_TYPE_URL } from '../../../src/xds/type-urls.js';
import type { DeltaDiscoveryResponse } from '../../../src/xds/discovery-types.js';

test('a response framed from pre-encoded resources decodes like a normally encoded one', () => {
  const body = encodeMessage('istio.workload.Address', { workload: { uid: 'u1', name: 'n'.repeat(300) } });
  const r1 = encodeResource('u1', 'v1', ADDRESS_TYPE_URL, body);
  const r2 = encodeResource('u2', 'v2', ADDRESS_TYPE_URL, Uint8Array.of());
  const framed = frameDeltaResponse(
    { typeUrl: ADDRESS_TYPE_URL, nonce: 'n1', systemVersionInfo: '7', removedResources: ['gone'] },
    [r1, r2],
  );
  const res = decodeMessage<DeltaDiscoveryResponse>(
    'envoy.service.discovery.v3.DeltaDiscoveryResponse',
    framed,
  );
  assert.equal(res.typeUrl, ADDRESS_TYPE_URL);
  assert.equal(res.nonce, 'n1');
  assert.equal(res.systemVersionInfo, '7');
  assert.deepEqual(res.removedResources, ['gone']);
  assert.deepEqual(
    res.resources?.map((r) => [r.name, r.version, r.resource?.typeUrl]),
    [
      ['u1', 'v1', ADDRESS_TYPE_URL],
      ['u2', 'v2', ADDRESS_TYPE_URL],
    ],
  );
  assert.deepEqual([...(res.resources?.[0]?.resource?.value ?? [])], [...body]);
  const reference = encodeMessage('envoy.service.discovery.v3.DeltaDiscoveryResponse', res);
  assert.equal(framed.length, reference.length);
});
