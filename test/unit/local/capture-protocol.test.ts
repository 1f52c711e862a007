import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCaptureMessage } from '../../../src/ztunnel/capture/protocol.js';
import { captureRuleset } from '../../../src/ztunnel/capture/rules.js';
import { podsOf, assignClusterIps, type Obj } from '../../../src/local/cluster/manifests.js';

test('capture protocol: add needs an absolute netns path; del and snapshot-done parse; junk is rejected', () => {
  assert.deepEqual(
    parseCaptureMessage('{"type":"add","namespace":"default","name":"a","netns":"/run/netns/x"}'),
    {
      type: 'add',
      namespace: 'default',
      name: 'a',
      netns: '/run/netns/x',
    },
  );
  assert.equal(parseCaptureMessage('{"type":"add","namespace":"default","name":"a","netns":"x"}'), undefined);
  assert.deepEqual(parseCaptureMessage('{"type":"del","namespace":"d","name":"a"}'), {
    type: 'del',
    namespace: 'd',
    name: 'a',
  });
  assert.deepEqual(parseCaptureMessage('{"type":"snapshot-done"}'), { type: 'snapshot-done' });
  assert.equal(parseCaptureMessage('not json'), undefined);
});

test('capture rules: marked sockets and loopback pass, outbound to 15001, inbound to 15006, 15008 untouched', () => {
  const r = captureRuleset({ outbound: 15001, inboundPlaintext: 15006, hbone: 15008 }, '10.244.1.1');
  assert.match(r, /meta mark 0x539 accept/);
  assert.match(r, /ip daddr 127\.0\.0\.0\/8 accept/);
  assert.match(r, /tcp dport 15008 accept/);
  assert.match(r, /ip saddr 10\.244\.1\.1 accept/);
  assert.match(r, /redirect to :15001/);
  assert.match(r, /redirect to :15006/);
});

test('manifests: a Deployment becomes numbered pods; Services get a VIP from 10.96/16', () => {
  const objs: Obj[] = [
    {
      kind: 'Deployment',
      metadata: { name: 'echo', namespace: 'default' },
      spec: {
        replicas: 2,
        template: {
          metadata: { labels: { app: 'echo' } },
          spec: { serviceAccountName: 'echo', containers: [{ name: 'e', command: ['x'] }] },
        },
      },
    },
    { kind: 'Service', metadata: { name: 'echo' }, spec: { ports: [{ port: 80 }] } },
  ];
  const pods = podsOf(objs);
  assert.deepEqual(
    pods.map((p) => p.name),
    ['echo-1', 'echo-2'],
  );
  assert.equal(pods[0]!.serviceAccountName, 'echo');
  assignClusterIps(objs);
  assert.match(String((objs[1]!.spec as { clusterIP: string }).clusterIP), /^10\.96\.\d+\.\d+$/);
});
