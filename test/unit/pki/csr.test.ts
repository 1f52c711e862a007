import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createCsr, parseCsr } from '../../../src/pki/csr.js';
import { generateKeyPair } from '../../../src/pki/keys.js';
import { OID } from '../../../src/pki/oids.js';
import { pemBlocks, toPem } from '../../../src/pki/pem.js';

const URI = 'spiffe://cluster.local/ns/default/sa/sleep';

test('a CSR round-trips: P-256, ecdsa-with-SHA256, SANs, valid signature', () => {
  const kp = generateKeyPair();
  const pem = createCsr({ ...kp, uris: [URI], dnsNames: ['sleep.default.svc'] });
  assert.match(pem, /^-----BEGIN CERTIFICATE REQUEST-----\n/);
  const csr = parseCsr(pem);
  assert.equal(csr.keyType, 'ec');
  assert.equal(csr.curve, 'prime256v1');
  assert.equal(csr.rsaBits, undefined);
  assert.equal(csr.signatureAlgorithm, OID.ecdsaWithSha256);
  assert.equal(csr.signatureValid, true);
  assert.deepEqual(csr.uris, [URI]);
  assert.deepEqual(csr.dnsNames, ['sleep.default.svc']);
  assert.equal(csr.otherSans, 0);
  assert.ok(csr.publicKey.equals(kp.publicKey));
});

test('a CSR with two URI SANs reports both', () => {
  const uris = [URI, 'spiffe://cluster.local/ns/kube-system/sa/admin'];
  assert.deepEqual(parseCsr(createCsr({ ...generateKeyPair(), uris })).uris, uris);
});

test('RSA and Ed25519 CSRs parse, with the RSA key size', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const r = parseCsr(createCsr({ ...rsa, uris: [URI] }));
  assert.equal(r.keyType, 'rsa');
  assert.equal(r.rsaBits, 1024);
  assert.equal(r.signatureAlgorithm, OID.sha256WithRsa);
  assert.equal(r.signatureValid, true);
  const ed = parseCsr(createCsr({ ...generateKeyPairSync('ed25519'), uris: [URI] }));
  assert.equal(ed.keyType, 'ed25519');
  assert.equal(ed.signatureValid, true);
});

test('a CSR signed by another key, or altered after signing, has signatureValid false', () => {
  const a = generateKeyPair();
  const b = generateKeyPair();
  assert.equal(
    parseCsr(createCsr({ privateKey: b.privateKey, publicKey: a.publicKey, uris: [URI] })).signatureValid,
    false,
  );
  const der = (pemBlocks(createCsr({ ...a, uris: [URI] }))[0] as { der: Buffer }).der;
  const at = der.indexOf(Buffer.from('default'));
  der.write('defaulT', at, 'latin1');
  const csr = parseCsr(toPem('CERTIFICATE REQUEST', der));
  assert.deepEqual(csr.uris, ['spiffe://cluster.local/ns/defaulT/sa/sleep']);
  assert.equal(csr.signatureValid, false);
});

test('malformed CSRs throw PKI_ERR_BAD_CSR saying what is wrong', () => {
  const good = (pemBlocks(createCsr({ ...generateKeyPair(), uris: [URI] }))[0] as { der: Buffer }).der;
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /exactly one -----BEGIN CERTIFICATE REQUEST----- block/],
    ['a certificate', toPem('CERTIFICATE', good), /found 0/],
    [
      'not base64',
      '-----BEGIN CERTIFICATE REQUEST-----\n@@@@\n-----END CERTIFICATE REQUEST-----\n',
      /base64/,
    ],
    ['truncated', toPem('CERTIFICATE REQUEST', good.subarray(0, good.length - 10)), /runs past the end/],
    [
      'trailing garbage',
      toPem('CERTIFICATE REQUEST', Buffer.concat([good, Buffer.from([0])])),
      /trailing bytes/,
    ],
    [
      'not a sequence',
      toPem('CERTIFICATE REQUEST', Buffer.from('020101', 'hex')),
      /expected a constructed element/,
    ],
    [
      'random bytes',
      toPem('CERTIFICATE REQUEST', Buffer.from('30030401ff', 'hex')),
      /certificationRequestInfo: expected tag 0x30/,
    ],
  ];
  for (const [name, pem, re] of cases) {
    assert.throws(
      () => parseCsr(pem),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PKI_ERR_BAD_CSR', name);
        assert.match(err.message, /^bad certificate signing request: /, name);
        assert.match(err.message, re, name);
        return true;
      },
    );
  }
});

test('a CSR whose version is not 0 is rejected', () => {
  const der = Buffer.from(
    (pemBlocks(createCsr({ ...generateKeyPair(), uris: [URI] }))[0] as { der: Buffer }).der,
  );
  // The CertificationRequestInfo starts right after the outer header; its first field is INTEGER 0.
  const at = der.indexOf(Buffer.from('020100', 'hex'));
  der[at + 2] = 1;
  assert.throws(() => parseCsr(toPem('CERTIFICATE REQUEST', der)), {
    code: 'PKI_ERR_BAD_CSR',
    message: /version is 1/,
  });
});
