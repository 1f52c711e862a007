import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import {
  anyAddress,
  checkMark,
  checkNetnsPath,
  checkPort,
  familyOfIp,
  fdOf,
  ZTUNNEL_MARK,
} from '../../../src/native/options.js';
import { addonCandidates } from '../../../src/native/binding.js';
import { MeshError } from '../../../src/common/errors.js';

function isCode(code: string) {
  return (err: unknown): boolean => err instanceof MeshError && err.code === code;
}

test("ztunnel's mark is Istio's 0x539", () => {
  assert.equal(ZTUNNEL_MARK, 1337);
});

test('marks are 32-bit unsigned integers', () => {
  assert.equal(checkMark(0), 0);
  assert.equal(checkMark(0xffffffff), 0xffffffff);
  for (const bad of [-1, 0x100000000, 1.5, Number.NaN])
    assert.throws(() => checkMark(bad), isCode('NATIVE_ERR_ARGS'));
});

test('ports are 0-65535 and the message names the field', () => {
  assert.equal(checkPort(15001), 15001);
  assert.throws(
    () => checkPort(70000, 'localPort'),
    /localPort must be an integer from 0 to 65535, got 70000/,
  );
});

test('the family comes from an IP literal; host names are refused with a hint', () => {
  assert.equal(familyOfIp('10.0.0.1'), 4);
  assert.equal(familyOfIp('fd00::1'), 6);
  assert.equal(familyOfIp('::ffff:10.0.0.1'), 6);
  assert.throws(
    () => familyOfIp('echo.default', 'host'),
    /host must be an IP address \(resolve names before calling\)/,
  );
});

test('namespaces are absolute paths', () => {
  assert.equal(checkNetnsPath('/run/netns/a'), '/run/netns/a');
  assert.equal(checkNetnsPath('/proc/42/ns/net'), '/proc/42/ns/net');
  for (const bad of ['', 'pod-a', 'run/netns/a', '/run/netns/a\0b']) {
    assert.throws(() => checkNetnsPath(bad), isCode('NATIVE_ERR_ARGS'));
  }
});

test('fdOf takes a descriptor as is and refuses a socket that has none yet', () => {
  assert.equal(fdOf(7), 7);
  assert.throws(() => fdOf(-1), isCode('NATIVE_ERR_ARGS'));
  assert.throws(
    () => fdOf(new Socket()),
    (err: unknown) => isCode('NATIVE_ERR_NO_FD')(err) && /connectSocket/.test(String(err)),
  );
});

test('wildcard addresses per family', () => {
  assert.equal(anyAddress(4), '0.0.0.0');
  assert.equal(anyAddress(6), '::');
});

test('the addon is looked for in native/ above the module, after an explicit override', () => {
  const list = addonCandidates('/opt/app/dist/src/native', { MESHLITE_NATIVE_ADDON: '/x/addon.node' });
  assert.equal(list[0], '/x/addon.node');
  assert.ok(list.includes('/opt/app/native/build/Release/meshlite_native.node'));
  assert.ok(
    list.indexOf('/opt/app/dist/native/build/Release/meshlite_native.node') <
      list.indexOf('/opt/app/native/build/Release/meshlite_native.node'),
  );
  assert.equal(addonCandidates('/', {}).length, 1);
});
