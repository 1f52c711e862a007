import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAuthority } from '../../../src/hbone/authority.js';
import { forwardedFor, parseForwardedFor, newTraceparent, baggage } from '../../../src/hbone/headers.js';

test('CONNECT authority must be ip:port', () => {
  assert.deepEqual(parseAuthority('10.1.2.3:8080'), {
    ip: '10.1.2.3',
    port: 8080,
    authority: '10.1.2.3:8080',
  });
  assert.deepEqual(parseAuthority('[fd00::1]:80'), { ip: 'fd00::1', port: 80, authority: '[fd00::1]:80' });
  for (const bad of [
    undefined,
    '',
    'echo:8080',
    '10.1.2.3',
    '10.1.2.3:0',
    '10.1.2.3:65536',
    '10.1.2.3:80x',
    'fd00::1:80',
    '[10.0.0.1]:80',
    ':80',
  ]) {
    assert.equal(parseAuthority(bad), undefined, String(bad));
  }
});

test('forwarded, traceparent and baggage headers', () => {
  assert.equal(forwardedFor('10.0.0.5', 41234), 'for="10.0.0.5:41234"');
  assert.equal(
    forwardedFor('fd00::5', 1, 'echo.default.svc.cluster.local'),
    'for="[fd00::5]:1";host=echo.default.svc.cluster.local',
  );
  assert.equal(parseForwardedFor('for="10.0.0.5:41234";host=x'), '10.0.0.5:41234');
  const a = newTraceparent();
  const b = newTraceparent();
  assert.match(a, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  assert.notEqual(a, b);
  assert.equal(
    baggage({
      clusterName: 'Kubernetes',
      namespace: 'default',
      workloadName: 'curl',
      serviceName: 'curl',
      serviceVersion: 'v1',
    }),
    'k8s.cluster.name=Kubernetes,k8s.namespace.name=default,k8s.deployment.name=curl,service.name=curl,service.version=v1',
  );
});
