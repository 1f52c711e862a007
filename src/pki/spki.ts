/**
 * SubjectPublicKeyInfo <-> KeyObject, fast. On Node 20 with OpenSSL 3, `KeyObject.export({type:
 * 'spki'})` and `createPublicKey(<spki der>)` each cost ~100 µs (OpenSSL's encoder/decoder lookup),
 * more than the ECDSA signature itself (~25 µs). The JWK paths are far cheaper, so for the common key
 * types we build and read the SPKI DER ourselves from/to JWK. The result is byte-identical to
 * OpenSSL's encoding (tested); other key types and forms fall back to node:crypto.
 */
import { createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';

type JsonWebKey = webcrypto.JsonWebKey;
import { NULL, Tag, bitString, oid, sequence, unsignedInteger } from './der-encode.js';
import { DerReader, decodeBitString, decodeOid, readRoot } from './der-decode.js';

const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const ED25519 = '1.3.101.112';

interface Curve {
  oid: string;
  jwk: string;
  bytes: number;
}

const CURVES: Record<string, Curve> = {
  prime256v1: { oid: '1.2.840.10045.3.1.7', jwk: 'P-256', bytes: 32 },
  secp384r1: { oid: '1.3.132.0.34', jwk: 'P-384', bytes: 48 },
};
const CURVE_BY_OID = new Map(Object.values(CURVES).map((c) => [c.oid, c]));

const spkiCache = new WeakMap<KeyObject, Buffer>();

function b64u(s: string | undefined): Buffer {
  return Buffer.from(s ?? '', 'base64url');
}

function leftPad(b: Buffer, n: number): Buffer {
  return b.length >= n ? b : Buffer.concat([Buffer.alloc(n - b.length), b]);
}

function encodeSpki(key: KeyObject): Buffer {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (curve) {
      const jwk = key.export({ format: 'jwk' }) as JsonWebKey;
      const point = Buffer.concat([
        Buffer.from([4]),
        leftPad(b64u(jwk.x), curve.bytes),
        leftPad(b64u(jwk.y), curve.bytes),
      ]);
      return sequence(sequence(oid(EC_PUBLIC_KEY), oid(curve.oid)), bitString(point));
    }
  } else if (type === 'rsa') {
    const jwk = key.export({ format: 'jwk' }) as JsonWebKey;
    const rsaKey = sequence(unsignedInteger(b64u(jwk.n)), unsignedInteger(b64u(jwk.e)));
    return sequence(sequence(oid(RSA_ENCRYPTION), NULL), bitString(rsaKey));
  } else if (type === 'ed25519') {
    const jwk = key.export({ format: 'jwk' }) as JsonWebKey;
    return sequence(sequence(oid(ED25519)), bitString(b64u(jwk.x)));
  }
  return key.export({ type: 'spki', format: 'der' });
}

/** The DER SubjectPublicKeyInfo of a public (or private) key; cached per KeyObject. */
export function spkiOf(key: KeyObject): Buffer {
  let spki = spkiCache.get(key);
  if (!spki) {
    spki = encodeSpki(key.type === 'private' ? createPublicKey(key) : key);
    spkiCache.set(key, spki);
  }
  return spki;
}

/** An EC named-curve key with an uncompressed point, read as JWK; undefined for any other form. */
function ecFastPath(spki: Buffer): KeyObject | undefined {
  const r = new DerReader(spki, readRoot(spki, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo');
  const alg = r.child(r.next('algorithm', Tag.sequence), 'algorithm');
  if (decodeOid(spki, alg.next('algorithm', Tag.oid)) !== EC_PUBLIC_KEY) return undefined;
  const params = alg.next('parameters');
  if (params.tag !== Tag.oid) return undefined;
  const curve = CURVE_BY_OID.get(decodeOid(spki, params));
  if (!curve) return undefined;
  alg.end();
  const { unused, bytes } = decodeBitString(spki, r.next('subjectPublicKey', Tag.bitString));
  r.end();
  if (unused !== 0 || bytes.length !== 1 + 2 * curve.bytes || bytes[0] !== 4) return undefined;
  const x = bytes.subarray(1, 1 + curve.bytes).toString('base64url');
  const y = bytes.subarray(1 + curve.bytes).toString('base64url');
  return createPublicKey({ key: { kty: 'EC', crv: curve.jwk, x, y }, format: 'jwk' });
}

/**
 * A public KeyObject from SPKI DER. Throws (node:crypto or PKI_ERR_DER) if the key cannot be read,
 * e.g. an EC point not on its curve.
 */
export function publicKeyFromSpki(spki: Buffer): KeyObject {
  const fast = ecFastPath(spki);
  if (fast) {
    // The bytes are the canonical encoding of this key, so they can be reused when issuing.
    spkiCache.set(fast, spki);
    return fast;
  }
  return createPublicKey({ key: spki, format: 'der', type: 'spki' });
}
