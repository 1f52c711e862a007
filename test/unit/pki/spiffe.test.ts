import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { createRootCa, issueLeaf } from '../../../src/pki/ca.js';
import { generateKeyPair } from '../../../src/pki/keys.js';
import {
  parseSpiffeUri,
  parseSubjectAltNames,
  spiffeIdOf,
  spiffeUri,
  uriSans,
} from '../../../src/pki/spiffe.js';

const ID = { trustDomain: 'cluster.local', namespace: 'bookinfo', serviceAccount: 'bookinfo-productpage' };

test('spiffeUri and parseSpiffeUri round-trip the Istio form', () => {
  const uri = spiffeUri(ID);
  assert.equal(uri, 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage');
  assert.deepEqual(parseSpiffeUri(uri), ID);
  assert.deepEqual(parseSpiffeUri('spiffe://td.example_1/ns/a.b/sa/Svc_1'), {
    trustDomain: 'td.example_1',
    namespace: 'a.b',
    serviceAccount: 'Svc_1',
  });
});

test('parseSpiffeUri rejects anything but the strict form', () => {
  const bad = [
    'spiffe://cluster.local/ns/default',
    'spiffe://cluster.local/ns/default/sa/x/extra',
    'spiffe://cluster.local/sa/x/ns/default',
    'spiffe://Cluster.local/ns/default/sa/x',
    'spiffe://cluster.local:443/ns/default/sa/x',
    'spiffe://user@cluster.local/ns/default/sa/x',
    'spiffe://cluster.local/ns/default/sa/x?q=1',
    'spiffe://cluster.local/ns/default/sa/x#f',
    'spiffe://cluster.local/ns/de%41fault/sa/x',
    'spiffe://cluster.local/ns//sa/x',
    'spiffe://cluster.local/ns/../sa/x',
    'spiffe:///ns/default/sa/x',
    'SPIFFE://cluster.local/ns/default/sa/x',
    'https://cluster.local/ns/default/sa/x',
    '',
  ];
  for (const uri of bad) assert.equal(parseSpiffeUri(uri), undefined, uri);
});

test("parseSubjectAltNames honours Node's JSON quoting", () => {
  assert.deepEqual(parseSubjectAltNames('DNS:a.example, URI:spiffe://td/ns/a/sa/b, IP Address:10.0.0.1'), [
    ['DNS', 'a.example'],
    ['URI', 'spiffe://td/ns/a/sa/b'],
    ['IP Address', '10.0.0.1'],
  ]);
  assert.deepEqual(parseSubjectAltNames('URI:"spiffe://td/ns/a\\u002c URI:spiffe://evil/ns/x/sa/y", DNS:x'), [
    ['URI', 'spiffe://td/ns/a, URI:spiffe://evil/ns/x/sa/y'],
    ['DNS', 'x'],
  ]);
  assert.deepEqual(parseSubjectAltNames(''), []);
});

function leafWith(uris: string[], dnsNames: string[] = []): X509Certificate {
  const ca = createRootCa();
  const { publicKey } = generateKeyPair();
  return new X509Certificate(issueLeaf(ca, { publicKey, uris, dnsNames, validityMs: 60_000 }));
}

test('uriSans and spiffeIdOf read a real certificate', () => {
  const cert = leafWith([spiffeUri(ID)], ['productpage.bookinfo.svc']);
  assert.deepEqual(uriSans(cert), [spiffeUri(ID)]);
  assert.deepEqual(spiffeIdOf(cert), ID);
  // A TLS peer certificate carries the same text under `subjectaltname`.
  const peer = { subjectaltname: cert.subjectAltName } as PeerCertificate;
  assert.deepEqual(spiffeIdOf(peer), ID);
});

test('a URI crafted to look like two SANs stays one value and is not an identity', () => {
  const crafted = 'spiffe://cluster.local/ns/a, URI:spiffe://cluster.local/ns/admin/sa/root';
  const cert = leafWith([crafted]);
  assert.match(cert.subjectAltName ?? '', /^URI:"/);
  assert.deepEqual(uriSans(cert), [crafted]);
  assert.equal(spiffeIdOf(cert), undefined);
});

test('spiffeIdOf needs exactly one SPIFFE URI', () => {
  assert.equal(spiffeIdOf(leafWith([spiffeUri(ID), 'spiffe://cluster.local/ns/other/sa/x'])), undefined);
  assert.equal(spiffeIdOf(leafWith([], ['only.dns.example'])), undefined);
  assert.equal(spiffeIdOf(leafWith(['spiffe://cluster.local/ns/a/sa/b/c'])), undefined);
  // A non-SPIFFE URI next to the SPIFFE one does not hide it.
  assert.deepEqual(spiffeIdOf(leafWith(['https://example.com/x', spiffeUri(ID)])), ID);
});
