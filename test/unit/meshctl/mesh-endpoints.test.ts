import { test } from 'node:test';
import assert from 'node:assert/strict';
import { discoverIstiods, discoverZtunnels, joinRepeatedFlag } from '../../../src/meshctl/mesh-endpoints.js';

test('a repeated list flag folds into one comma list at the place of its first use', () => {
  assert.deepEqual(
    joinRepeatedFlag(
      ['workloads', '--ztunnel-admin', 'a:1', '--node', 'n', '--ztunnel-admin=b:2,c:3'],
      'ztunnel-admin',
    ),
    ['workloads', '--ztunnel-admin=a:1,b:2,c:3', '--node', 'n'],
  );
  assert.deepEqual(joinRepeatedFlag(['x', '--', '--ztunnel-admin', 'a:1'], 'ztunnel-admin'), [
    'x',
    '--',
    '--ztunnel-admin',
    'a:1',
  ]);
  // Without a value the flag stays as it is, for the parser to say it needs one.
  assert.deepEqual(joinRepeatedFlag(['--ztunnel-admin'], 'ztunnel-admin'), ['--ztunnel-admin']);
});

test('ztunnels come from the flag/environment list, else the local default admin port', () => {
  assert.deepEqual(discoverZtunnels({ ztunnelAdmin: ['10.0.0.1:15000', '[::1]:15001'] }), [
    { host: '10.0.0.1', port: 15000 },
    { host: '::1', port: 15001 },
  ]);
  assert.deepEqual(discoverZtunnels({ ztunnelAdmin: [] }), [{ host: '127.0.0.1', port: 15000 }]);
  assert.throws(
    () => discoverZtunnels({ ztunnelAdmin: ['node-1'] }),
    /--ztunnel-admin: "node-1" is not an address of the form HOST:PORT/,
  );
  assert.deepEqual(discoverIstiods({ istiod: [] }), [{ host: '127.0.0.1', port: 15014 }]);
});
