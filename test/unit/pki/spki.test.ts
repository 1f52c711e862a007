import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { publicKeyFromSpki, spkiOf } from '../../../src/pki/spki.js';

function pairs(): Array<[string, KeyObject, KeyObject]> {
  const out: Array<[string, KeyObject, KeyObject]> = [];
  for (let i = 0; i < 5; i++) {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const ed = generateKeyPairSync('ed25519');
    out.push(['P-256', p256.publicKey, p256.privateKey], ['P-384', p384.publicKey, p384.privateKey]);
    out.push(['Ed25519', ed.publicKey, ed.privateKey]);
  }
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const p521 = generateKeyPairSync('ec', { namedCurve: 'secp521r1' });
  out.push(['RSA-1024', rsa.publicKey, rsa.privateKey], ['P-521', p521.publicKey, p521.privateKey]);
  return out;
}

test("spkiOf is byte-identical to node:crypto's SPKI export, from public or private keys", () => {
  for (const [name, pub, priv] of pairs()) {
    const expected = pub.export({ type: 'spki', format: 'der' });
    assert.deepEqual(spkiOf(pub), expected, name);
    assert.deepEqual(spkiOf(priv), expected, name);
  }
});

test('publicKeyFromSpki gives back an equal key', () => {
  for (const [name, pub] of pairs()) {
    const key = publicKeyFromSpki(pub.export({ type: 'spki', format: 'der' }));
    assert.ok(key.equals(pub), name);
    assert.equal(key.type, 'public');
  }
});

test('an EC point that is not on the curve is rejected', () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = Buffer.from(publicKey.export({ type: 'spki', format: 'der' }));
  spki[spki.length - 1] = (spki[spki.length - 1] as number) ^ 0x01;
  assert.throws(() => publicKeyFromSpki(spki));
});
