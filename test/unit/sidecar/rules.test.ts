import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureFromAnnotations, sidecarRuleset } from '../../../src/sidecar/rules.js';

test("the pod's rules: inbound to 15006 but HBONE and status ports; outbound to 15001 but the proxy", () => {
  const r = sidecarRuleset({ outboundPort: 15001, inboundPort: 15006, controlPlane: ['10.244.255.1:15010'] });
  const pre = r.slice(r.indexOf('chain prerouting'), r.indexOf('chain output'));
  const out = r.slice(r.indexOf('chain output'));
  assert.match(
    pre,
    /tcp dport \{ 15008, 15090, 15021, 15020 \} accept\n\s+meta l4proto tcp redirect to :15006/,
  );
  assert.match(pre, /iifname "lo" accept/);
  // Order matters: every exception comes before the redirect.
  const redirect = out.indexOf('redirect to :15001');
  for (const rule of [
    'meta mark 0x539 accept',
    'oifname "lo" accept',
    'ip daddr 127.0.0.0/8 accept',
    'ip daddr 10.244.255.1 tcp dport 15010 accept',
  ])
    assert.ok(out.indexOf(rule) >= 0 && out.indexOf(rule) < redirect, rule);
});

test('traffic.sidecar.istio.io annotations add exclusions; bad entries are named', () => {
  const { capture, errors } = captureFromAnnotations({
    'traffic.sidecar.istio.io/excludeInboundPorts': '8081, 9000',
    'traffic.sidecar.istio.io/excludeOutboundPorts': 'x',
    'traffic.sidecar.istio.io/excludeOutboundIPRanges': '10.1.0.0/16',
  });
  assert.deepEqual(capture.excludeInboundPorts, [8081, 9000]);
  assert.deepEqual(errors, ['traffic.sidecar.istio.io/excludeOutboundPorts: "x" is not a port']);
  const r = sidecarRuleset({ outboundPort: 15001, inboundPort: 15006, ...capture });
  assert.match(r, /tcp dport \{ 15008, 15090, 15021, 15020, 8081, 9000 \} accept/);
  assert.match(r, /ip daddr 10\.1\.0\.0\/16 accept/);
});
