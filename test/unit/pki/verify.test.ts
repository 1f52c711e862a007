import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import {
  createIntermediateCa,
  createRootCa,
  issueLeaf,
  issueWorkloadCertificate,
  type CertificateAuthority,
} from '../../../src/pki/ca.js';
import { generateKeyPair } from '../../../src/pki/keys.js';
import { pemBlocks, toPem } from '../../../src/pki/pem.js';
import { verifyChain, type ChainResult } from '../../../src/pki/verify.js';

const ID = { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'sleep' };
const HOUR = 3600_000;

function reason(r: ChainResult): string {
  assert.equal(r.ok, false, 'expected the chain to be rejected');
  return r.ok ? '' : r.reason;
}

const root = createRootCa();
const inter = createIntermediateCa(root);

test('a good chain verifies and yields the leaf and its SPIFFE id', () => {
  const w = issueWorkloadCertificate(inter, ID);
  const r = verifyChain(w.chainPem, [root.rootPem]);
  assert.equal(r.ok, true);
  assert.ok(r.ok && r.leaf.raw.equals(new X509Certificate(w.certPem).raw));
  assert.deepEqual(r.ok && r.id, ID);
  // Without the root in the chain (as a TLS peer sends it) it verifies too.
  assert.equal(verifyChain(w.chainPem.slice(0, 2), [root.rootPem]).ok, true);
  // Among several trusted roots.
  assert.equal(verifyChain(w.chainPem, [createRootCa().rootPem, root.rootPem]).ok, true);
});

test('an expired or not-yet-valid certificate is rejected', () => {
  const w = issueWorkloadCertificate(inter, ID, { validityMs: HOUR });
  assert.match(
    reason(verifyChain(w.chainPem, [root.rootPem], new Date(Date.now() + 2 * HOUR))),
    /leaf\) expired at/,
  );
  assert.match(
    reason(verifyChain(w.chainPem, [root.rootPem], new Date(Date.now() - HOUR))),
    /not valid before/,
  );
  const oldRoot = createRootCa({ notBefore: new Date(Date.now() - 3 * HOUR), validityMs: 2 * HOUR });
  const expiredRootLeaf = issueLeaf(oldRoot, {
    publicKey: generateKeyPair().publicKey,
    uris: ['spiffe://cluster.local/ns/a/sa/b'],
    validityMs: HOUR,
    notBefore: new Date(Date.now() - 2.5 * HOUR),
  });
  assert.match(reason(verifyChain([expiredRootLeaf], [oldRoot.rootPem])), /expired at/);
});

test('a certificate from another CA is rejected', () => {
  const other = createIntermediateCa(createRootCa());
  const w = issueWorkloadCertificate(other, ID);
  assert.match(
    reason(verifyChain(w.chainPem, [root.rootPem])),
    /certificate 2 is a self-signed root that is not among/,
  );
  // Its root has the same name as ours; the key identifiers tell them apart.
  assert.match(
    reason(verifyChain(w.chainPem.slice(0, 2), [root.rootPem])),
    /certificate 1 was not issued by trusted root 0 \(issuer name or key identifier/,
  );
  const unrelated = createIntermediateCa(createRootCa({ commonName: 'Unrelated Root' }));
  assert.match(reason(verifyChain([unrelated.certPem], [root.rootPem])), /not issued by any trusted root/);
  // The other CA's leaf presented with our intermediate: the link fails.
  assert.match(
    reason(verifyChain([w.certPem, inter.certPem], [root.rootPem])),
    /was not issued by certificate 1/,
  );
});

test('a look-alike CA with the same name but another key is rejected', () => {
  const impostorRoot = createRootCa();
  const impostor = createIntermediateCa(impostorRoot); // same default names as `inter`
  const w = issueWorkloadCertificate(impostor, ID);
  assert.match(
    reason(verifyChain([w.certPem, inter.certPem], [root.rootPem])),
    /not issued by certificate 1|does not verify/,
  );
  assert.equal(verifyChain([w.certPem, impostor.certPem], [root.rootPem]).ok, false);
});

test('a tampered signature is rejected', () => {
  const w = issueWorkloadCertificate(root, ID);
  const der = Buffer.from((pemBlocks(w.certPem)[0] as { der: Buffer }).der);
  der[der.length - 5] = (der[der.length - 5] as number) ^ 0xff;
  const r = verifyChain([toPem('CERTIFICATE', der)], [root.rootPem]);
  assert.match(reason(r), /signature|cannot be parsed/);
});

test('a leaf cannot act as a CA', () => {
  const w = issueWorkloadCertificate(inter, ID);
  const fakeCa: CertificateAuthority = {
    key: w.key,
    certPem: w.certPem,
    cert: new X509Certificate(w.certPem),
    chainPem: w.chainPem,
    rootPem: root.rootPem,
  };
  const stolen = issueWorkloadCertificate(fakeCa, { ...ID, serviceAccount: 'admin' });
  assert.match(reason(verifyChain(stolen.chainPem, [root.rootPem])), /certificate 1 is not a CA/);
});

test('a chain of two intermediates verifies only in the right order', () => {
  const r = createRootCa();
  const i1 = createIntermediateCa(r);
  const i2 = createIntermediateCa(i1);
  const w = issueWorkloadCertificate(i2, ID);
  assert.equal(verifyChain(w.chainPem, [r.rootPem]).ok, true);
  assert.equal(w.chainPem.length, 4);
  // Wrong order of intermediates.
  assert.match(reason(verifyChain([w.certPem, i1.certPem, i2.certPem], [r.rootPem])), /not issued by/);
});

test('bad inputs give reasons, not exceptions', () => {
  assert.match(reason(verifyChain([], [root.rootPem])), /empty/);
  assert.match(reason(verifyChain(['garbage'], [root.rootPem])), /certificate 0 cannot be parsed/);
  assert.match(reason(verifyChain([root.rootPem], ['garbage'])), /trusted root 0 cannot be parsed/);
  assert.match(reason(verifyChain([root.rootPem], [])), /no trusted roots/);
});
