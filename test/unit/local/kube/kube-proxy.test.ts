import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceRules } from '../../../../src/local/kube/kube-proxy.js';

test('Service ports map to the ready endpoints of the same-named Endpoints port', () => {
  const rules = serviceRules(
    [
      {
        metadata: { name: 'kubernetes', namespace: 'default' },
        spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443 }] },
      },
      {
        metadata: { name: 'echo', namespace: 'demo' },
        spec: {
          clusterIP: '10.96.4.2',
          ports: [
            { name: 'http', port: 80 },
            { name: 'dns', port: 53, protocol: 'UDP' },
          ],
        },
      },
      {
        metadata: { name: 'headless', namespace: 'demo' },
        spec: { clusterIP: 'None', ports: [{ port: 80 }] },
      },
      {
        metadata: { name: 'empty', namespace: 'demo' },
        spec: { clusterIP: '10.96.4.3', ports: [{ port: 80 }] },
      },
    ],
    [
      {
        metadata: { name: 'kubernetes', namespace: 'default' },
        subsets: [{ addresses: [{ ip: '10.244.255.1' }], ports: [{ name: 'https', port: 36183 }] }],
      },
      {
        metadata: { name: 'echo', namespace: 'demo' },
        subsets: [
          { addresses: [{ ip: '10.244.2.4' }, { ip: '10.244.1.5' }], ports: [{ name: 'http', port: 8080 }] },
        ],
      },
    ],
  );
  assert.deepEqual(
    rules.map((r) => [r.service.name, r.service.clusterIP, r.service.ports[0], r.endpoints]),
    [
      ['kubernetes', '10.96.0.1', { port: 443, targetPort: 36183, name: 'https' }, ['10.244.255.1']],
      ['echo', '10.96.4.2', { port: 80, targetPort: 8080, name: 'http' }, ['10.244.2.4', '10.244.1.5']],
      // No endpoints: the node rules reject the VIP.
      ['empty', '10.96.4.3', { port: 80, targetPort: 80 }, []],
    ],
  );
});

test('the node rules send DNS to the cluster DNS and masquerade the host probes to the node side', async () => {
  const { nodeRuleset } = await import('../../../../src/local/cluster/network.js');
  const { nodeInfo } = await import('../../../../src/local/cluster/topology.js');
  const n = nodeInfo('ml', 1);
  const rules = nodeRuleset(n, [], () => [], 15053, {
    dns: { ip: '10.244.255.1', port: 40053 },
    masqueradeHostToPods: true,
  });
  assert.match(rules, /ip daddr 10\.244\.255\.2 udp dport 53 dnat to 10\.244\.255\.1:40053/);
  assert.match(rules, /ip saddr 10\.244\.255\.1 ip daddr 10\.244\.1\.0\/24 masquerade/);
  // The file-driven cluster keeps its rules: DNS to the node's ztunnel, no probe masquerade.
  const plain = nodeRuleset(n, [], () => [], 15053);
  assert.match(plain, /udp dport 53 dnat to 10\.244\.255\.2:15053/);
  assert.doesNotMatch(plain, /ip daddr 10\.244\.1\.0\/24 masquerade/);
});
