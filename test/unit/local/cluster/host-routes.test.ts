import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostRouteArgs, HOST_ROUTE_PROTO } from '../../../../src/local/cluster/network.js';
import { nodeInfo } from '../../../../src/local/cluster/topology.js';

test('before any node exists, the pod and Service ranges are unreachable from the host', () => {
  assert.deepEqual(hostRouteArgs([]), [
    ['route', 'replace', 'unreachable', '10.244.0.0/16', 'proto', HOST_ROUTE_PROTO],
    ['route', 'replace', 'unreachable', '10.96.0.0/16', 'proto', HOST_ROUTE_PROTO],
  ]);
});

test("each node's pod range goes via that node; Services via every node; all tagged for removal", () => {
  const nodes = [nodeInfo('ml', 1), nodeInfo('ml', 2)];
  const args = hostRouteArgs(nodes);
  assert.deepEqual(args.slice(2), [
    ['route', 'replace', '10.244.1.0/24', 'via', '10.244.255.2', 'proto', HOST_ROUTE_PROTO],
    ['route', 'replace', '10.244.2.0/24', 'via', '10.244.255.3', 'proto', HOST_ROUTE_PROTO],
    [
      'route',
      'replace',
      '10.96.0.0/16',
      'proto',
      HOST_ROUTE_PROTO,
      'nexthop',
      'via',
      '10.244.255.2',
      'nexthop',
      'via',
      '10.244.255.3',
    ],
  ]);
  for (const a of args) assert.ok(a.includes(HOST_ROUTE_PROTO));
});

test('one node: the Service range has a single next hop', () => {
  const args = hostRouteArgs([nodeInfo('ml', 1)]);
  assert.deepEqual(args.at(-1), [
    'route',
    'replace',
    '10.96.0.0/16',
    'via',
    '10.244.255.2',
    'proto',
    HOST_ROUTE_PROTO,
  ]);
});
