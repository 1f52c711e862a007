import { test } from 'node:test';
import assert from 'node:assert/strict';
import { meshNameCandidates, resolveMeshName } from '../../../../src/ztunnel/dns/mesh-names.js';
import { parseResolvConf } from '../../../../src/ztunnel/dns/resolv-conf.js';
import { pod, storeOf, svc, svcKey } from '../fixtures.js';

test('short names follow the Kubernetes search path of the client namespace', () => {
  assert.deepEqual(meshNameCandidates('echo', 'ns1'), ['echo.ns1.svc.cluster.local', 'echo']);
  assert.deepEqual(meshNameCandidates('echo.other', 'ns1'), ['echo.other.svc.cluster.local', 'echo.other']);
  assert.deepEqual(meshNameCandidates('echo.other.svc', 'ns1'), [
    'echo.other.svc.cluster.local',
    'echo.other.svc',
  ]);
  assert.deepEqual(meshNameCandidates('Echo.Other.svc.cluster.local.', 'ns1'), [
    'echo.other.svc.cluster.local',
  ]);
  assert.deepEqual(meshNameCandidates('api.example.com', 'ns1'), ['api.example.com']);
  assert.deepEqual(meshNameCandidates('echo', undefined), ['echo'], 'unknown client: no namespace to expand');
  assert.deepEqual(meshNameCandidates('echo', 'ns1', 'corp.internal'), [
    'echo.ns1.svc.corp.internal',
    'echo',
  ]);
  assert.deepEqual(meshNameCandidates('', 'ns1'), []);
  assert.deepEqual(meshNameCandidates('a..b', 'ns1'), []);
});

test('resolveMeshName finds VIPs by short and full name, ServiceEntry hosts, headless endpoints', () => {
  const store = storeOf([
    svc('echo', ['10.96.0.10', 'fd00::10'], { namespace: 'ns1' }),
    svc('echo', '10.96.0.20', { namespace: 'ns2' }),
    svc('api', '240.240.0.1', { namespace: 'ns1', hostname: 'api.example.com' }),
    svc('api', '240.240.0.2', { namespace: 'ns2', hostname: 'api.example.com' }),
    svc('headless', [], { namespace: 'ns1' }),
    pod('h1', '10.0.0.5', { namespace: 'ns1', services: { [svcKey('headless', 'ns1')]: [[80, 80]] } }),
  ]);
  assert.deepEqual(resolveMeshName(store, 'echo', 'ns1')?.ips, ['10.96.0.10', 'fd00::10']);
  assert.deepEqual(resolveMeshName(store, 'echo', 'ns2')?.ips, ['10.96.0.20']);
  assert.deepEqual(resolveMeshName(store, 'echo.ns2', 'ns1')?.ips, ['10.96.0.20']);
  assert.deepEqual(resolveMeshName(store, 'echo.ns2.svc', 'ns1')?.hostname, 'echo.ns2.svc.cluster.local');
  assert.deepEqual(resolveMeshName(store, 'echo.ns1.svc.cluster.local', undefined)?.ips, [
    '10.96.0.10',
    'fd00::10',
  ]);
  assert.deepEqual(
    resolveMeshName(store, 'api.example.com', 'ns2')?.ips,
    ['240.240.0.2'],
    'own namespace first',
  );
  assert.equal(resolveMeshName(store, 'api.example.com', 'other')?.ips.length, 1);
  assert.deepEqual(resolveMeshName(store, 'headless', 'ns1')?.ips, ['10.0.0.5']);
  assert.equal(resolveMeshName(store, 'echo', 'ns3'), undefined);
  assert.equal(resolveMeshName(store, 'echo', undefined), undefined);
  assert.equal(resolveMeshName(store, 'google.com', 'ns1'), undefined);
});

test('resolv.conf: nameserver lines in order, comments and non-IPs skipped', () => {
  const text =
    '# generated\nsearch a.svc.cluster.local\nnameserver 10.0.0.10\nnameserver  fe80::1%eth0 \n' +
    'nameserver bogus\n;nameserver 1.1.1.1\noptions ndots:5\nnameserver 8.8.8.8 # google\n';
  assert.deepEqual(parseResolvConf(text), [
    { host: '10.0.0.10', port: 53 },
    { host: 'fe80::1%eth0', port: 53 },
    { host: '8.8.8.8', port: 53 },
  ]);
});
