import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey, generateKeyPairSync } from 'node:crypto';
import {
  createIntermediateCa,
  createRootCa,
  issueLeaf,
  issueWorkloadCertificate,
  loadCa,
} from '../../../src/pki/ca.js';
import { generateKeyPair, privateKeyPem } from '../../../src/pki/keys.js';
import { KeyUsageBit, OID } from '../../../src/pki/oids.js';
import { verifyChain } from '../../../src/pki/verify.js';
import { parseCertificate } from '../../../src/pki/x509-parse.js';

const ID = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'sleep' };
const HOUR = 3600_000;

function info(pem: string) {
  return parseCertificate(new X509Certificate(pem).raw);
}

test('generateKeyPair gives EC P-256 and privateKeyPem is PKCS#8', () => {
  const { privateKey, publicKey } = generateKeyPair();
  assert.equal(publicKey.asymmetricKeyType, 'ec');
  assert.equal(publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const pem = privateKeyPem(privateKey);
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.throws(() => privateKeyPem(publicKey), { code: 'PKI_ERR_BAD_KEY' });
});

test('a root CA is self-signed, CA:TRUE critical, keyCertSign+cRLSign critical, has a key id, lasts 10 years', () => {
  const before = Date.now();
  const root = createRootCa({ organization: 'example.org', commonName: 'Example Root' });
  const cert = root.cert;
  assert.equal(cert.ca, true);
  assert.ok(cert.checkIssued(cert) && cert.verify(cert.publicKey));
  assert.equal(cert.subject, 'O=example.org\nCN=Example Root');
  assert.ok(cert.checkPrivateKey(root.key));
  assert.deepEqual(root.chainPem, [root.certPem]);
  assert.equal(root.rootPem, root.certPem);
  const i = info(root.certPem);
  assert.equal(i.signatureAlgorithm, OID.ecdsaWithSha256);
  const ext = (oid: string) => i.extensions.find((e) => e.oid === oid);
  assert.equal(ext(OID.basicConstraints)?.critical, true);
  assert.equal(ext(OID.keyUsage)?.critical, true);
  assert.deepEqual([...(i.keyUsage ?? [])].sort(), [KeyUsageBit.keyCertSign, KeyUsageBit.cRLSign]);
  assert.ok(ext(OID.subjectKeyIdentifier));
  const years = (i.notAfter.getTime() - i.notBefore.getTime()) / (365 * 24 * HOUR);
  assert.ok(years > 9.99 && years < 10.01, `validity ${years} years`);
  assert.ok(Math.abs(i.notBefore.getTime() - before) < 5000);
});

test('serial numbers are random, positive and 16 bytes', () => {
  const ca = createRootCa();
  const { publicKey } = generateKeyPair();
  const serials = new Set<string>();
  for (let n = 0; n < 50; n++) {
    const i = info(issueLeaf(ca, { publicKey, dnsNames: ['a.example'], validityMs: HOUR }));
    assert.equal(i.serial.length, 16);
    assert.equal((i.serial[0] as number) & 0x80, 0);
    serials.add(i.serial.toString('hex'));
  }
  assert.equal(serials.size, 50);
});

test('a workload leaf has the required extensions and chains through an intermediate', () => {
  const root = createRootCa();
  const inter = createIntermediateCa(root);
  const w = issueWorkloadCertificate(inter, ID);
  assert.deepEqual(w.chainPem, [w.certPem, inter.certPem, root.certPem]);
  const cert = new X509Certificate(w.certPem);
  assert.equal(cert.ca, false);
  assert.ok(!cert.subject, 'no subject (Node 20 says undefined, Node 26 an empty string)');
  assert.equal(cert.subjectAltName, 'URI:spiffe://cluster.local/ns/default/sa/sleep');
  assert.deepEqual(cert.keyUsage, [OID.serverAuth, OID.clientAuth]);
  assert.ok(cert.checkPrivateKey(w.key));
  assert.ok(createPublicKey(w.keyPem).equals(createPublicKey(w.key)));
  const i = info(w.certPem);
  const ext = (oid: string) => i.extensions.find((e) => e.oid === oid);
  assert.equal(ext(OID.basicConstraints)?.critical, true);
  assert.equal(ext(OID.keyUsage)?.critical, true);
  assert.deepEqual([...(i.keyUsage ?? [])].sort(), [
    KeyUsageBit.digitalSignature,
    KeyUsageBit.keyEncipherment,
  ]);
  assert.equal(ext(OID.subjectAltName)?.critical, true, 'SAN is critical when the subject is empty');
  assert.deepEqual(i.authorityKeyId, info(inter.certPem).keyId);
  assert.equal(i.notAfter.getTime() - i.notBefore.getTime(), 24 * HOUR);
  assert.equal(w.notAfter.getTime(), i.notAfter.getTime());
  const checked = verifyChain(w.chainPem, [root.rootPem]);
  assert.equal(checked.ok, true);
  assert.deepEqual(checked.ok && checked.id, ID);
});

test('with a common name the SAN is not critical', () => {
  const ca = createRootCa();
  const { publicKey } = generateKeyPair();
  const pem = issueLeaf(ca, {
    publicKey,
    commonName: 'istiod',
    dnsNames: ['istiod.istio-system.svc'],
    validityMs: HOUR,
  });
  const cert = new X509Certificate(pem);
  assert.equal(cert.subject, 'CN=istiod');
  assert.equal(cert.subjectAltName, 'DNS:istiod.istio-system.svc');
  assert.equal(info(pem).extensions.find((e) => e.oid === OID.subjectAltName)?.critical, false);
});

test('a leaf never outlives its issuer, and an intermediate never outlives its parent', () => {
  const root = createRootCa({ validityMs: 10 * HOUR });
  const inter = createIntermediateCa(root, { validityMs: 100 * HOUR });
  assert.equal(info(inter.certPem).notAfter.getTime(), info(root.certPem).notAfter.getTime());
  const w = issueWorkloadCertificate(inter, ID, { validityMs: 1000 * HOUR });
  assert.equal(w.notAfter.getTime(), info(root.certPem).notAfter.getTime());
});

test('times after 2049 use GeneralizedTime, and certificates spanning 2050 verify', () => {
  const root = createRootCa({ notBefore: new Date('2049-06-01T00:00:00Z'), validityMs: 365 * 24 * HOUR });
  const der = root.cert.raw;
  // 0x17 (UTCTime) "490601000000Z" then 0x18 (GeneralizedTime) "20500601000000Z".
  assert.ok(der.includes(Buffer.from('170d3439303630313030303030305a', 'hex')));
  assert.ok(der.includes(Buffer.from('180f32303530303630313030303030305a', 'hex')));
  assert.equal(root.cert.validTo, 'Jun  1 00:00:00 2050 GMT');
  const w = issueWorkloadCertificate(root, ID, { notBefore: new Date('2049-12-31T12:00:00Z') });
  assert.equal(verifyChain(w.chainPem, [root.rootPem], new Date('2050-01-01T00:00:00Z')).ok, true);
});

test('issuing is refused with a clear error when it cannot make a valid certificate', () => {
  const root = createRootCa({ notBefore: new Date(Date.now() - 10 * HOUR), validityMs: HOUR });
  const { publicKey, privateKey } = generateKeyPair();
  assert.throws(() => issueLeaf(root, { publicKey, uris: ['spiffe://a/ns/b/sa/c'], validityMs: HOUR }), {
    code: 'PKI_ERR_CA_EXPIRED',
    message: /rotate the CA/,
  });
  const ca = createRootCa();
  assert.throws(() => issueLeaf(ca, { publicKey, validityMs: HOUR }), { code: 'PKI_ERR_BAD_NAME' });
  assert.throws(() => issueLeaf(ca, { publicKey, uris: ['spiffe://ü/ns/a/sa/b'], validityMs: HOUR }), {
    code: 'PKI_ERR_BAD_NAME',
  });
  assert.throws(() => issueLeaf(ca, { publicKey, dnsNames: ['a'], validityMs: 0 }), {
    code: 'PKI_ERR_BAD_VALIDITY',
  });
  assert.throws(() => issueLeaf(ca, { publicKey: privateKey, dnsNames: ['a'], validityMs: HOUR }), {
    code: 'PKI_ERR_BAD_KEY',
  });
});

test('loadCa accepts an Istio cacerts layout and the loaded CA issues verifiable certificates', () => {
  const root = createRootCa();
  const inter = createIntermediateCa(root);
  const loaded = loadCa(inter.certPem, privateKeyPem(inter.key), [inter.certPem + root.certPem]);
  assert.deepEqual(loaded.chainPem, [inter.certPem, root.certPem]);
  assert.equal(loaded.rootPem, root.certPem);
  // The chain may also be given without the CA's own certificate in front.
  assert.deepEqual(loadCa(inter.certPem, privateKeyPem(inter.key), [root.certPem]).chainPem, loaded.chainPem);
  const w = issueWorkloadCertificate(loaded, ID);
  assert.equal(verifyChain(w.chainPem, [root.rootPem]).ok, true);
  // A self-signed root on its own.
  assert.deepEqual(loadCa(root.certPem, privateKeyPem(root.key), []).chainPem, [root.certPem]);
});

test('loadCa rejects a wrong key, a non-CA certificate and a chain without its root', () => {
  const root = createRootCa();
  const inter = createIntermediateCa(root);
  assert.throws(() => loadCa(inter.certPem, privateKeyPem(root.key), [root.certPem]), {
    code: 'PKI_ERR_KEY_MISMATCH',
  });
  assert.throws(() => loadCa(inter.certPem, 'not a key', [root.certPem]), { code: 'PKI_ERR_BAD_KEY' });
  const w = issueWorkloadCertificate(inter, ID);
  assert.throws(() => loadCa(w.certPem, w.keyPem, [inter.certPem, root.certPem]), { code: 'PKI_ERR_NOT_CA' });
  assert.throws(() => loadCa(inter.certPem, privateKeyPem(inter.key), []), {
    code: 'PKI_ERR_BAD_CHAIN',
    message: /not a self-signed root/,
  });
  const other = createRootCa();
  assert.throws(() => loadCa(inter.certPem, privateKeyPem(inter.key), [other.certPem]), {
    code: 'PKI_ERR_BAD_CHAIN',
    message: /does not verify/,
  });
});

test('a plugged-in RSA CA signs with sha256WithRSAEncryption', () => {
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const root = createRootCa({ key });
  assert.equal(info(root.certPem).signatureAlgorithm, OID.sha256WithRsa);
  const w = issueWorkloadCertificate(root, ID);
  assert.equal(info(w.certPem).signatureAlgorithm, OID.sha256WithRsa);
  assert.equal(verifyChain(w.chainPem, [root.rootPem]).ok, true);
});
