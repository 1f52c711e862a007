import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IstiodCa } from '../../../../src/istiod/ca/istiod-ca.js';
import { createIntermediateCa, createRootCa } from '../../../../src/pki/ca.js';
import { generateKeyPair, privateKeyPem } from '../../../../src/pki/keys.js';
import { splitPemCerts } from '../../../../src/pki/pem.js';
import { spiffeIdOf } from '../../../../src/pki/spiffe.js';
import { verifyChain } from '../../../../src/pki/verify.js';
import { sid } from './fixtures.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'ca-test-'));
}

test('first start creates a 10-year self-signed root with a 0600 key; a restart loads the same root', async () => {
  const dir = await tempDir();
  try {
    const a = await IstiodCa.open({ dataDir: join(dir, 'ca') });
    assert.equal(a.mode, 'self-signed');
    const keyMode = (await stat(join(dir, 'ca', 'ca-key.pem'))).mode & 0o777;
    assert.equal(keyMode, 0o600);
    const root = new X509Certificate(a.rootsPem[0] as string);
    const years = (Date.parse(root.validTo) - Date.parse(root.validFrom)) / (365 * 24 * 3600e3);
    assert.ok(years > 9.9 && years < 10.1, `root lifetime ${years} years`);
    const b = await IstiodCa.open({ dataDir: join(dir, 'ca') });
    assert.equal(b.authority.certPem, a.authority.certPem, 'the same root after a restart');
    // Leaves issued before the restart verify with the root after it.
    const { publicKey } = generateKeyPair();
    const chain = a.sign(publicKey, sid('app', 'web'), 3600e3);
    assert.ok(verifyChain(chain, [...b.rootsPem]).ok);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a CA key readable by others is refused with a message saying how to fix it', async () => {
  const dir = await tempDir();
  try {
    await IstiodCa.open({ dataDir: dir });
    await chmod(join(dir, 'ca-key.pem'), 0o644);
    await assert.rejects(IstiodCa.open({ dataDir: dir }), /mode 644; the CA key must be 600 \(chmod 600/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a plugged-in CA with an intermediate issues chains leaf first, root last', async () => {
  const dir = await tempDir();
  try {
    const root = createRootCa({ commonName: 'Corp Root' });
    const inter = createIntermediateCa(root, { commonName: 'Cluster Intermediate' });
    await writeFile(join(dir, 'ca-cert.pem'), inter.certPem);
    await writeFile(join(dir, 'ca-key.pem'), privateKeyPem(inter.key), { mode: 0o600 });
    await writeFile(join(dir, 'cert-chain.pem'), inter.certPem); // stops below the root
    await writeFile(join(dir, 'root-cert.pem'), root.rootPem);
    const ca = await IstiodCa.open({ pluggedDir: dir });
    assert.equal(ca.mode, 'plugged-in');
    const { publicKey } = generateKeyPair();
    const chain = ca.sign(publicKey, sid('app', 'web'), 3600e3);
    assert.equal(chain.length, 3);
    assert.equal(chain[1], inter.certPem);
    assert.equal(chain[2], root.rootPem);
    const checked = verifyChain(chain, [root.rootPem]);
    assert.ok(checked.ok);
    assert.deepEqual(spiffeIdOf(new X509Certificate(chain[0] as string)), sid('app', 'web'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a plugged-in CA whose root is missing from root-cert.pem is refused', async () => {
  const dir = await tempDir();
  try {
    const root = createRootCa();
    const other = createRootCa();
    const inter = createIntermediateCa(root);
    await writeFile(join(dir, 'ca-cert.pem'), inter.certPem);
    await writeFile(join(dir, 'ca-key.pem'), privateKeyPem(inter.key), { mode: 0o600 });
    await writeFile(join(dir, 'cert-chain.pem'), inter.certPem + root.rootPem);
    await writeFile(join(dir, 'root-cert.pem'), other.rootPem);
    await assert.rejects(IstiodCa.open({ pluggedDir: dir }), /does not hold the root of cert-chain.pem/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('rotation keeps the old root trusted (published and persisted) until it is retired', async () => {
  const dir = await tempDir();
  try {
    const ca = await IstiodCa.open({ dataDir: dir });
    const oldRoot = ca.rootsPem[0] as string;
    const seen: number[] = [];
    ca.onRootsChange((r) => seen.push(r.length));
    await ca.rotateRoot();
    assert.equal(ca.rootsPem.length, 2);
    assert.notEqual(ca.rootsPem[0], oldRoot, 'the new root is first');
    assert.equal(ca.rootsPem[1], oldRoot);
    const published = join(dir, 'published-root.pem');
    await ca.publishRoots(published);
    assert.equal(splitPemCerts(await readFile(published, 'utf8')).length, 2);
    assert.equal(ca.rootConfigMapData()['root-cert.pem'], ca.rootBundlePem());
    const reopened = await IstiodCa.open({ dataDir: dir });
    assert.equal(reopened.rootsPem.length, 2, 'the overlap survives a restart');
    assert.equal(reopened.authority.certPem, ca.authority.certPem);
    await ca.retireOldRoots();
    assert.deepEqual([...ca.rootsPem], [ca.authority.rootPem]);
    assert.deepEqual(seen, [2, 1]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
