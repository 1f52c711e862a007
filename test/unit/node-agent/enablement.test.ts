import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podEnabled, type AgentPod } from '../../../src/node-agent/enablement.js';
import { defaultGateway, environHasUid } from '../../../src/node-agent/pod-netns.js';

const pod = (labels: Record<string, string> = {}, extra: Partial<AgentPod['metadata']> = {}): AgentPod => ({
  metadata: { name: 'p', namespace: 'demo', uid: 'u', labels, ...extra },
  spec: { nodeName: 'node-1' },
  status: { phase: 'Running', podIP: '10.244.1.5' },
});

test("Istio's enablement: namespace or pod ambient, pod none opts out, sidecars and excluded namespaces never", () => {
  const ambientNs = { 'istio.io/dataplane-mode': 'ambient' };
  assert.equal(podEnabled(pod(), ambientNs, []), true);
  assert.equal(podEnabled(pod(), { 'dataplane-mode': 'ambient' }, []), true);
  assert.equal(podEnabled(pod(), {}, []), false);
  assert.equal(podEnabled(pod({ 'istio.io/dataplane-mode': 'ambient' }), {}, []), true);
  assert.equal(podEnabled(pod({ 'istio.io/dataplane-mode': 'none' }), ambientNs, []), false);
  assert.equal(podEnabled(pod(), ambientNs, ['demo']), false);
  assert.equal(
    podEnabled(pod({}, { annotations: { 'sidecar.istio.io/status': '{}' } }), ambientNs, []),
    false,
  );
  assert.equal(podEnabled(pod({}, { deletionTimestamp: '2026-01-01T00:00:00Z' }), ambientNs, []), false);
  assert.equal(podEnabled({ ...pod(), status: { phase: 'Pending' } }, ambientNs, []), false);
  assert.equal(podEnabled({ ...pod(), spec: { hostNetwork: true } }, ambientNs, []), false);
});

test("the pod's default gateway from /proc/<pid>/net/route, the UID marker in its environment", () => {
  const table = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    'eth0\t0101F40A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0',
    'eth0\t00000000\t0101F40A\t0003\t0\t0\t0\t00000000\t0\t0\t0',
  ].join('\n');
  assert.equal(defaultGateway(table), '10.244.1.1');
  assert.equal(defaultGateway(table.split('\n').slice(0, 2).join('\n')), undefined);
  const env = Buffer.from('PATH=/bin\0MESHLITE_POD_UID=abc-1\0HOME=/\0');
  assert.equal(environHasUid(env, 'abc-1'), true);
  assert.equal(environHasUid(env, 'abc'), false);
  assert.equal(environHasUid(Buffer.from('MESHLITE_POD_UID=abc-1\0'), 'abc-1'), true);
});
