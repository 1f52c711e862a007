// Unit tests of the namespace helpers' pure parts (src/local/netns/: argument building and parsing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addrAddArgs,
  checkCidr,
  execArgs,
  nftCommand,
  nftDeleteTableArgs,
  routeAddArgs,
  ruleAddArgs,
  sysctlWrite,
  vethAddArgs,
} from '../../../src/local/netns/args.js';
import { checkLinkName, checkNetnsName, netnsPath, tablePrefix } from '../../../src/local/netns/names.js';
import { formatCommand } from '../../../src/local/netns/command.js';
import { MeshError } from '../../../src/common/errors.js';

const invalidName = (err: unknown): boolean =>
  err instanceof MeshError && err.code === 'NETNS_ERR_INVALID_NAME';

test('a veth pair is created with each end directly in its namespace', () => {
  assert.deepEqual(
    vethAddArgs({ name: 'mlt-1-va', netns: 'mlt-1-a' }, { name: 'mlt-1-vb', netns: 'mlt-1-b' }),
    [
      '-n',
      'mlt-1-a',
      'link',
      'add',
      'mlt-1-va',
      'type',
      'veth',
      'peer',
      'name',
      'mlt-1-vb',
      'netns',
      'mlt-1-b',
    ],
  );
  assert.deepEqual(vethAddArgs({ name: 'h0', mtu: 1400 }, { name: 'p0' }), [
    'link',
    'add',
    'h0',
    'mtu',
    '1400',
    'type',
    'veth',
    'peer',
    'name',
    'p0',
  ]);
});

test('names that could be read as options or exceed IFNAMSIZ are refused', () => {
  assert.throws(() => checkNetnsName('-n'), invalidName);
  assert.throws(() => checkNetnsName('a b'), invalidName);
  assert.throws(() => checkNetnsName('..'), invalidName);
  assert.throws(() => checkLinkName('a-name-of-16-chr'), invalidName);
  assert.equal(checkLinkName('a-name-of-15-ch'), 'a-name-of-15-ch');
  assert.throws(() => vethAddArgs({ name: 'ok' }, { name: 'x;rm -rf' }), invalidName);
});

test('IPv6 addresses are added without duplicate address detection', () => {
  assert.deepEqual(addrAddArgs('ns', 'eth0', '10.0.0.1/24'), [
    '-n',
    'ns',
    'addr',
    'add',
    '10.0.0.1/24',
    'dev',
    'eth0',
  ]);
  assert.deepEqual(addrAddArgs(undefined, 'eth0', 'fd00::1/64'), [
    'addr',
    'add',
    'fd00::1/64',
    'dev',
    'eth0',
    'nodad',
  ]);
  assert.throws(() => addrAddArgs('ns', 'eth0', '10.0.0.1/33'), /not an address with prefix length/);
  assert.throws(() => addrAddArgs('ns', 'eth0', 'node1/24'), /not an address with prefix length/);
});

test('cidr parsing defaults to a host prefix', () => {
  assert.deepEqual(checkCidr('10.1.2.3'), { ip: '10.1.2.3', prefix: 32, family: 4 });
  assert.deepEqual(checkCidr('fd00::/8'), { ip: 'fd00::', prefix: 8, family: 6 });
});

test('routes: default, via, dev, table, local type and the IPv6 switch', () => {
  assert.deepEqual(routeAddArgs('n1', { to: 'default', via: '10.0.0.1' }), [
    '-n',
    'n1',
    'route',
    'add',
    'default',
    'via',
    '10.0.0.1',
  ]);
  assert.deepEqual(routeAddArgs('p', { type: 'local', to: '0.0.0.0/0', dev: 'lo', table: 100 }), [
    '-n',
    'p',
    'route',
    'add',
    'local',
    '0.0.0.0/0',
    'dev',
    'lo',
    'table',
    '100',
  ]);
  assert.deepEqual(routeAddArgs(undefined, { to: 'fd00:1::/64', via: 'fd00::2' }), [
    '-6',
    'route',
    'add',
    'fd00:1::/64',
    'via',
    'fd00::2',
  ]);
  assert.throws(
    () => routeAddArgs(undefined, { to: 'default', via: 'gateway' }),
    /via must be an IP address/,
  );
});

test('policy rules take the mark in hex', () => {
  assert.deepEqual(ruleAddArgs('p', { fwmark: 0x111, table: 100 }), [
    '-n',
    'p',
    'rule',
    'add',
    'fwmark',
    '0x111',
    'lookup',
    '100',
  ]);
  assert.throws(() => ruleAddArgs('p', { fwmark: -1, table: 100 }), /fwmark/);
});

test('commands inside a namespace go through ip netns exec, arguments kept apart', () => {
  assert.deepEqual(execArgs('pod', 'curl', ['-s', 'http://x/$(id)']), [
    'netns',
    'exec',
    'pod',
    'curl',
    '-s',
    'http://x/$(id)',
  ]);
  assert.deepEqual(nftCommand('pod', ['-f', '-']), {
    file: 'ip',
    args: ['netns', 'exec', 'pod', 'nft', '-f', '-'],
  });
  assert.deepEqual(nftCommand(undefined, ['list', 'tables']), { file: 'nft', args: ['list', 'tables'] });
  assert.throws(() => execArgs('pod', '', []), /a command to run is required/);
});

test('nft table names and families are checked', () => {
  assert.deepEqual(nftDeleteTableArgs('inet', 'mlt_1_capture'), ['delete', 'table', 'inet', 'mlt_1_capture']);
  assert.throws(() => nftDeleteTableArgs('inet', 'mlt-1'), invalidName);
  assert.throws(() => nftDeleteTableArgs('ipx', 'ok'), invalidName);
});

test('sysctl keys become /proc/sys paths; values are plain', () => {
  assert.deepEqual(sysctlWrite('net.ipv4.ip_forward', 1), {
    path: '/proc/sys/net/ipv4/ip_forward',
    input: '1\n',
  });
  assert.deepEqual(sysctlWrite('net/ipv4/conf/eth0.5/rp_filter', '0'), {
    path: '/proc/sys/net/ipv4/conf/eth0.5/rp_filter',
    input: '0\n',
  });
  assert.throws(() => sysctlWrite('kernel', 1), /not a sysctl key/);
  assert.throws(() => sysctlWrite('net.ipv4.ip_forward', '1;reboot'), /not a plain sysctl value/);
  assert.throws(() => sysctlWrite('net/../../etc/passwd', '1'), /not a sysctl key/);
});

test('paths and table prefixes derive from names', () => {
  assert.equal(netnsPath('mlt-9-a'), '/run/netns/mlt-9-a');
  assert.equal(tablePrefix('mlt-9-'), 'mlt_9_');
});

test('command lines in messages quote what needs quoting', () => {
  assert.equal(
    formatCommand('ip', ['-n', 'a', 'addr', 'add', '10.0.0.1/24']),
    'ip -n a addr add 10.0.0.1/24',
  );
  assert.equal(formatCommand('echo', ["it's", 'a b']), `echo 'it'\\''s' 'a b'`);
});
