import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createIntermediateCa, createRootCa } from '../../../src/pki/ca.js';
import { joinPem, pemBlocks, splitPemCerts, toPem } from '../../../src/pki/pem.js';

test('toPem wraps at 64 columns and round-trips through pemBlocks', () => {
  const der = Buffer.alloc(100, 0xab);
  const pem = toPem('CERTIFICATE', der);
  const lines = pem.trimEnd().split('\n');
  assert.equal(lines[0], '-----BEGIN CERTIFICATE-----');
  assert.equal(lines.at(-1), '-----END CERTIFICATE-----');
  assert.ok(lines.slice(1, -1).every((l) => l.length <= 64));
  const blocks = pemBlocks(pem);
  assert.equal(blocks.length, 1);
  assert.equal(blocks[0]?.label, 'CERTIFICATE');
  assert.deepEqual(blocks[0]?.der, der);
});

test('splitPemCerts splits a bundle (with comments and a key) into certificates, in order', () => {
  const root = createRootCa();
  const inter = createIntermediateCa(root);
  const bundle =
    '# intermediate\n' +
    inter.certPem +
    '\nsome comment\n' +
    toPem('PRIVATE KEY', Buffer.from([1, 2, 3])) +
    root.certPem.replace(/\n/g, '\r\n');
  const certs = splitPemCerts(bundle);
  assert.equal(certs.length, 2);
  assert.equal(new X509Certificate(certs[0] as string).subject, new X509Certificate(inter.certPem).subject);
  assert.equal(certs[1], root.certPem);
  assert.deepEqual(splitPemCerts([inter.certPem, root.certPem]), [inter.certPem, root.certPem]);
  assert.equal(joinPem(certs), inter.certPem + root.certPem);
});

test('malformed PEM is an error naming the problem', () => {
  assert.throws(() => pemBlocks('-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n'), {
    code: 'PKI_ERR_BAD_PEM',
    message: /BEGIN CERTIFICATE ends with END PRIVATE KEY/,
  });
  assert.throws(() => pemBlocks('-----BEGIN CERTIFICATE-----\nA*AA\n-----END CERTIFICATE-----\n'), {
    code: 'PKI_ERR_BAD_PEM',
    message: /base64/,
  });
  assert.deepEqual(pemBlocks('no pem here'), []);
});
