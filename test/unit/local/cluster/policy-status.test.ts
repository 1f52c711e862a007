import { test } from 'node:test';
import assert from 'node:assert/strict';
import { policyCondition } from '../../../../src/local/cluster/policy-status.js';

const waypoint = {
  kind: 'Gateway',
  metadata: { name: 'waypoint', namespace: 'bookinfo' },
  spec: { gatewayClassName: 'istio-waypoint' },
};
const reviews = { kind: 'Service', metadata: { name: 'reviews', namespace: 'bookinfo' }, spec: {} };
const ap = (spec: Record<string, unknown>) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'p', namespace: 'bookinfo' },
  spec,
});

test('a selector policy with HTTP fields: ZtunnelAccepted False saying what ztunnel does instead', () => {
  const c = policyCondition(
    ap({
      selector: { matchLabels: { app: 'reviews' } },
      rules: [{ to: [{ operation: { methods: ['GET'] } }] }],
    }),
    [],
    'istio-system',
  );
  assert.equal(c.type, 'ZtunnelAccepted');
  assert.equal(c.status, 'False');
  assert.equal(c.reason, 'UnsupportedValue');
  assert.match(c.message, /found: methods.*never allow anything.*Use a waypoint/);
  assert.equal(
    policyCondition(ap({ rules: [{ from: [{ source: { namespaces: ['a'] } }] }] }), [], 'istio-system')
      .status,
    'True',
  );
});

test('targetRefs: WaypointAccepted when the target exists; TargetNotFound otherwise; CUSTOM refused', () => {
  const all = [waypoint, reviews];
  const gw = policyCondition(
    ap({ targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }] }),
    all,
    'istio-system',
  );
  assert.deepEqual(
    [gw.type, gw.status, gw.message],
    ['WaypointAccepted', 'True', 'bound to Gateway waypoint'],
  );
  const missing = policyCondition(
    ap({ targetRefs: [{ kind: 'Service', name: 'ratings' }] }),
    all,
    'istio-system',
  );
  assert.deepEqual([missing.status, missing.reason], ['False', 'TargetNotFound']);
  const custom = policyCondition(
    ap({ targetRefs: [{ kind: 'Service', name: 'reviews' }], action: 'CUSTOM', provider: { name: 'opa' } }),
    all,
    'istio-system',
  );
  assert.deepEqual([custom.status, custom.reason], ['False', 'UnsupportedValue']);
  assert.match(custom.message, /fails closed/);
});

test('targetRefs to an ingress Gateway (class istio) are bound; to a Gateway of another class, not found', () => {
  const edge = {
    kind: 'Gateway',
    metadata: { name: 'edge', namespace: 'bookinfo' },
    spec: { gatewayClassName: 'istio' },
  };
  const other = {
    kind: 'Gateway',
    metadata: { name: 'lb', namespace: 'bookinfo' },
    spec: { gatewayClassName: 'nginx' },
  };
  const ref = (name: string) =>
    ap({ targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name }] });
  const c = policyCondition(ref('edge'), [edge, other], 'istio-system');
  assert.deepEqual([c.status, c.message], ['True', 'bound to Gateway edge']);
  const n = policyCondition(ref('lb'), [edge, other], 'istio-system');
  assert.deepEqual([n.status, n.reason], ['False', 'TargetNotFound']);
});
