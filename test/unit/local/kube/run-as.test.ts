import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAsPrefix } from '../../../../src/local/kube/run-as.js';

test('root containers (or no user) run as they are', () => {
  assert.deepEqual(runAsPrefix(undefined, undefined), []);
  assert.deepEqual(runAsPrefix({ runAsUser: 0, runAsGroup: 1337 }, { runAsUser: 1337 }), []);
});

test("Istio's proxy user: setpriv with its uid/gid, able to read its volumes, nothing else", () => {
  assert.deepEqual(runAsPrefix({ runAsUser: 1337, runAsGroup: 1337, capabilities: { drop: ['ALL'] } }, {}), [
    'setpriv',
    '--reuid',
    '1337',
    '--regid',
    '1337',
    '--clear-groups',
    '--inh-caps',
    '+dac_read_search',
    '--ambient-caps',
    '+dac_read_search',
    '--',
  ]);
});

test("the pod's user when the container names none; added capabilities kept after the switch", () => {
  const p = runAsPrefix(
    { capabilities: { add: ['NET_ADMIN', 'CAP_NET_RAW', 'bad cap'] } },
    { runAsUser: 1000 },
  );
  assert.deepEqual(p.slice(0, 5), ['setpriv', '--reuid', '1000', '--regid', '1000']);
  assert.equal(p[p.indexOf('--ambient-caps') + 1], '+dac_read_search,+net_admin,+net_raw');
});
