import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inject, SIDECAR_STATUS, wantsSidecar } from '../../../../src/local/cluster/injection.js';
import { parseControlRequest } from '../../../../src/local/cluster/control.js';

test("injection follows Istio's webhook selectors and precedence", () => {
  const on = { 'istio-injection': 'enabled' };
  assert.equal(wantsSidecar('a', {}, on), true, 'namespace label');
  assert.equal(wantsSidecar('a', { 'sidecar.istio.io/inject': 'false' }, on), false, 'pod opts out');
  assert.equal(wantsSidecar('a', { 'sidecar.istio.io/inject': 'true' }, undefined), true, 'pod label alone');
  assert.equal(wantsSidecar('a', {}, undefined), false, 'no label anywhere');
  assert.equal(
    wantsSidecar('a', { 'sidecar.istio.io/inject': 'true' }, { 'istio-injection': 'disabled' }),
    false,
    'a disabled namespace wins over the pod label',
  );
  assert.equal(wantsSidecar('a', {}, { 'istio.io/rev': 'default' }), true, 'revision label');
  assert.equal(wantsSidecar('kube-system', {}, on), false, 'system namespaces are never injected');
  assert.equal(
    wantsSidecar('a', { 'gateway.networking.k8s.io/gateway-name': 'waypoint' }, on),
    false,
    'waypoint and gateway pods are never injected',
  );
  assert.equal(
    wantsSidecar('a', {}, { 'istio-injection': 'enabled', 'istio.io/dataplane-mode': 'ambient' }),
    true,
    'both ambient and injected: a sidecar pod',
  );
});

test('an injected pod runs istio-proxy first with its identity and records the injection', () => {
  const p = inject(
    {
      namespace: 'sc',
      name: 'web-1',
      labels: { app: 'web', version: 'v2' },
      serviceAccountName: 'web',
      deployment: 'web',
      containers: [{ name: 'web', command: ['node'], args: [], env: {}, ports: [9080] }],
    },
    { execPath: '/bin/node', xdsAddress: '10.0.0.1:15010', tokenFile: '/t' },
  );
  assert.equal(p.sidecar, true);
  assert.deepEqual(
    p.containers.map((c) => c.name),
    ['istio-proxy', 'web'],
  );
  const args = p.containers[0]!.args.join(' ');
  assert.match(args, /--service-account web/);
  assert.match(args, /--workload web --app web --version v2/);
  assert.match(args, /--token-file \/t/);
  assert.ok(p.annotations?.[SIDECAR_STATUS]);
});

test('the control socket accepts a deployment restart and names what is wrong otherwise', () => {
  assert.deepEqual(
    parseControlRequest('{"op":"rollout-restart","target":"deployment","name":"echo","namespace":"x"}'),
    { op: 'rollout-restart', target: 'deployment', name: 'echo', namespace: 'x' },
  );
  assert.match(
    String(parseControlRequest('{"op":"rollout-restart","target":"deployment"}')),
    /name must be a non-empty string/,
  );
  assert.match(
    String(parseControlRequest('{"op":"rollout-restart","target":"pod"}')),
    /only ztunnel or a deployment/,
  );
});
