// Unit tests of the parsers for `ip` / `nft` output (src/local/netns/parse.ts), on captured output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLinkList, parseNetnsList, parseNftTables } from '../../../src/local/netns/parse.js';

test('ip -j netns list, including the empty output when there are none', () => {
  assert.deepEqual(parseNetnsList(''), []);
  assert.deepEqual(parseNetnsList('[{"name":"mlt-1-b","id":1},{"name":"mlt-1-a"}]\n'), [
    { name: 'mlt-1-b', id: 1 },
    { name: 'mlt-1-a' },
  ]);
});

test('the text form of ip netns list', () => {
  assert.deepEqual(parseNetnsList('mlt-1-b (id: 1)\nmlt-1-a\n'), [
    { name: 'mlt-1-b', id: 1 },
    { name: 'mlt-1-a' },
  ]);
});

test('ip -j -d link show gives names, kinds and state', () => {
  const out = JSON.stringify([
    { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'] },
    { ifindex: 7, ifname: 'mlt-1-va', flags: ['BROADCAST', 'MULTICAST'], linkinfo: { info_kind: 'veth' } },
  ]);
  assert.deepEqual(parseLinkList(out), [
    { name: 'lo', up: true },
    { name: 'mlt-1-va', up: false, kind: 'veth' },
  ]);
  assert.deepEqual(parseLinkList(''), []);
});

test('nft list tables', () => {
  const out = 'table inet mlt_1_capture\ntable ip nat\n\n';
  assert.deepEqual(parseNftTables(out), [
    { family: 'inet', name: 'mlt_1_capture' },
    { family: 'ip', name: 'nat' },
  ]);
  assert.deepEqual(parseNftTables(''), []);
});
