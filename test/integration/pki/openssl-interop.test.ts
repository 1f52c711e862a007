/**
 * What we produce must be usable by other software, not only by our own parser: OpenSSL 3 checks the
 * certificates (strict RFC 5280 mode, TLS client and server purposes) and the CSRs, and we read what
 * OpenSSL makes (RSA CSRs, plugged-in CAs with path length limits).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createIntermediateCa,
  createRootCa,
  issueLeaf,
  issueWorkloadCertificate,
  loadCa,
} from '../../../src/pki/ca.js';
import { createCsr, parseCsr } from '../../../src/pki/csr.js';
import { generateKeyPair } from '../../../src/pki/keys.js';
import { verifyChain } from '../../../src/pki/verify.js';

const ID = { trustDomain: 'cluster.local', namespace: 'bookinfo', serviceAccount: 'reviews' };
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
let dir = '';

function openssl(...args: string[]): { ok: boolean; out: string } {
  // No stdin (openssl never waits for a prompt answer) and a timeout, so a stuck openssl fails the test instead of hanging it.
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', input: '', timeout: 20_000 });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pki-openssl-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test(
  'openssl verifies a workload certificate through an intermediate (strict, TLS client and server)',
  { skip: !hasOpenssl },
  () => {
    const root = createRootCa();
    const inter = createIntermediateCa(root);
    const w = issueWorkloadCertificate(inter, ID);
    file('root.pem', root.certPem);
    file('inter.pem', inter.certPem);
    file('leaf.pem', w.certPem);
    for (const purpose of ['sslclient', 'sslserver']) {
      const r = openssl(
        'verify',
        '-x509_strict',
        '-purpose',
        purpose,
        '-CAfile',
        'root.pem',
        '-untrusted',
        'inter.pem',
        'leaf.pem',
      );
      assert.ok(r.ok, r.out);
      assert.match(r.out, /leaf\.pem: OK/);
    }
    // Another root does not vouch for it.
    file('other.pem', createRootCa().certPem);
    assert.equal(openssl('verify', '-CAfile', 'other.pem', '-untrusted', 'inter.pem', 'leaf.pem').ok, false);
  },
);

test('openssl x509 -text shows the required content', { skip: !hasOpenssl }, () => {
  const root = createRootCa({ commonName: 'Mesh Root' });
  const inter = createIntermediateCa(root);
  const w = issueWorkloadCertificate(inter, ID);
  const leaf = openssl('x509', '-text', '-noout', '-in', file('leaf.pem', w.certPem)).out;
  assert.match(leaf, /Version: 3 \(0x2\)/);
  assert.match(leaf, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(leaf, /NIST CURVE: P-256/);
  assert.match(leaf, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  assert.match(leaf, /X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
  assert.match(
    leaf,
    /X509v3 Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/,
  );
  assert.match(
    leaf,
    /X509v3 Subject Alternative Name: critical\s+URI:spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/reviews/,
  );
  assert.match(leaf, /X509v3 Authority Key Identifier:/);
  assert.match(leaf, /Issuer: O = cluster\.local, CN = Intermediate CA/);
  const ca = openssl('x509', '-text', '-noout', '-in', file('inter.pem', inter.certPem)).out;
  assert.match(ca, /X509v3 Basic Constraints: critical\s+CA:TRUE/);
  assert.match(ca, /X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
  assert.match(ca, /X509v3 Subject Key Identifier:/);
  const serial = openssl('x509', '-noout', '-serial', '-in', 'leaf.pem').out.trim();
  assert.match(serial, /^serial=[0-7][0-9A-F]{31}$/);
});

test('openssl accepts our CSRs', { skip: !hasOpenssl }, () => {
  const uris = ['spiffe://cluster.local/ns/a/sa/b', 'spiffe://cluster.local/ns/c/sa/d'];
  file('req.pem', createCsr({ ...generateKeyPair(), uris, dnsNames: ['x.example'] }));
  const r = openssl('req', '-verify', '-noout', '-text', '-in', 'req.pem');
  assert.ok(r.ok, r.out);
  assert.match(r.out, /verify OK/);
  assert.match(r.out, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(
    r.out,
    /X509v3 Subject Alternative Name: critical\s+DNS:x\.example, URI:spiffe:\/\/cluster\.local\/ns\/a\/sa\/b, URI:spiffe:\/\/cluster\.local\/ns\/c\/sa\/d/,
  );
});

test(
  'an RSA-1024 CSR made by openssl parses with rsaBits 1024 (so the CA can refuse it)',
  { skip: !hasOpenssl },
  () => {
    const r = openssl(
      'req',
      '-new',
      '-newkey',
      'rsa:1024',
      '-nodes',
      '-keyout',
      'weak.key',
      '-out',
      'weak.csr',
      '-subj',
      '/O=test',
      '-addext',
      'subjectAltName=URI:spiffe://cluster.local/ns/a/sa/b',
    );
    assert.ok(r.ok, r.out);
    const csr = parseCsr(readFileSync(join(dir, 'weak.csr'), 'utf8'));
    assert.equal(csr.keyType, 'rsa');
    assert.equal(csr.rsaBits, 1024);
    assert.equal(csr.signatureValid, true);
    assert.deepEqual(csr.uris, ['spiffe://cluster.local/ns/a/sa/b']);
  },
);

test('an openssl EC CSR with two URI SANs and an IP reports all of them', { skip: !hasOpenssl }, () => {
  const r = openssl(
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ec.key',
    '-out',
    'ec.csr',
    '-subj',
    '/',
    '-addext',
    'subjectAltName=URI:spiffe://cluster.local/ns/a/sa/b,URI:spiffe://cluster.local/ns/c/sa/d,IP:10.0.0.1',
  );
  assert.ok(r.ok, r.out);
  const csr = parseCsr(readFileSync(join(dir, 'ec.csr'), 'utf8'));
  assert.equal(csr.curve, 'prime256v1');
  assert.equal(csr.signatureValid, true);
  assert.deepEqual(csr.uris, ['spiffe://cluster.local/ns/a/sa/b', 'spiffe://cluster.local/ns/c/sa/d']);
  assert.equal(csr.otherSans, 1);
});

test(
  'a plugged-in CA made by openssl (RSA root, path length 0) loads and its limits are enforced',
  { skip: !hasOpenssl },
  () => {
    const ext = file(
      'ca.cnf',
      '[v3]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n',
    );
    const r = openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      'plug.key',
      '-out',
      'plug.pem',
      '-days',
      '30',
      '-subj',
      '/O=Plugged/CN=Plugged Root',
      '-config',
      ext,
      '-extensions',
      'v3',
    );
    assert.ok(r.ok, r.out);
    const certPem = readFileSync(join(dir, 'plug.pem'), 'utf8');
    const ca = loadCa(certPem, readFileSync(join(dir, 'plug.key'), 'utf8'), [certPem]);
    // Issuing directly under it is fine, for us and for openssl.
    const w = issueWorkloadCertificate(ca, ID);
    assert.equal(verifyChain(w.chainPem, [ca.rootPem]).ok, true);
    file('plug-leaf.pem', w.certPem);
    assert.ok(openssl('verify', '-x509_strict', '-CAfile', 'plug.pem', 'plug-leaf.pem').ok);
    // An intermediate under a pathlen:0 root breaks the limit: both we and openssl refuse the chain.
    const inter = createIntermediateCa(ca);
    const w2 = issueWorkloadCertificate(inter, ID);
    const res = verifyChain(w2.chainPem, [ca.rootPem]);
    assert.equal(res.ok, false);
    assert.match(res.ok ? '' : res.reason, /allows 0 CA certificate\(s\) below it, the chain has 1/);
    file('plug-inter.pem', inter.certPem);
    file('plug-leaf2.pem', w2.certPem);
    assert.equal(
      openssl('verify', '-CAfile', 'plug.pem', '-untrusted', 'plug-inter.pem', 'plug-leaf2.pem').ok,
      false,
    );
  },
);

test(
  'a leaf with DNS names only verifies as a TLS server certificate for that name',
  { skip: !hasOpenssl },
  () => {
    const root = createRootCa();
    const { publicKey } = generateKeyPair();
    file('dns-root.pem', root.certPem);
    file(
      'dns-leaf.pem',
      issueLeaf(root, { publicKey, dnsNames: ['istiod.istio-system.svc'], validityMs: 3600_000 }),
    );
    const ok = openssl(
      'verify',
      '-x509_strict',
      '-purpose',
      'sslserver',
      '-verify_hostname',
      'istiod.istio-system.svc',
      '-CAfile',
      'dns-root.pem',
      'dns-leaf.pem',
    );
    assert.ok(ok.ok, ok.out);
    assert.equal(
      openssl('verify', '-verify_hostname', 'other.svc', '-CAfile', 'dns-root.pem', 'dns-leaf.pem').ok,
      false,
    );
  },
);
