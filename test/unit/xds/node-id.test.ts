import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatNodeId, parseNodeId } from '../../../src/xds/node-id.js';

test('a ztunnel node id parses into its parts and formats back', () => {
  const id = 'ztunnel~10.244.1.5~ztunnel-x7k2p.istio-system~istio-system.svc.cluster.local';
  const r = parseNodeId(id);
  assert.ok(r.ok);
  assert.deepEqual(r.node, {
    type: 'ztunnel',
    ip: '10.244.1.5',
    podName: 'ztunnel-x7k2p',
    namespace: 'istio-system',
    domain: 'istio-system.svc.cluster.local',
  });
  assert.equal(formatNodeId('ztunnel', '10.244.1.5', 'ztunnel-x7k2p', 'istio-system'), id);
});

test('a malformed node id is a value that says the expected form', () => {
  for (const bad of ['', 'ztunnel', 'a~b~c', 'a~~c~d', 'a~b~c~d~e']) {
    const r = parseNodeId(bad);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /<type>~<ip>~<pod>\.<namespace>~<namespace>\.svc\.cluster\.local/);
  }
});
