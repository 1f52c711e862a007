/**
 * Signature algorithms: which AlgorithmIdentifier and hash a signing key uses, and verifying a
 * signature given the algorithm's OID. ECDSA signatures are DER `ECDSA-Sig-Value`s, as X.509 wants
 * (node:crypto's default `dsaEncoding`).
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { MeshError } from '../common/errors.js';
import { NULL, oid, sequence } from './der-encode.js';
import { OID } from './oids.js';

export interface SignatureAlgorithm {
  /** Dotted OID, e.g. 1.2.840.10045.4.3.2 for ecdsa-with-SHA256. */
  oid: string;
  /** Encoded AlgorithmIdentifier. */
  algorithmIdentifier: Buffer;
  /** Hash name for node:crypto, or null for algorithms that hash internally (Ed25519). */
  hash: string | null;
}

function alg(dotted: string, hash: string | null, withNullParams: boolean): SignatureAlgorithm {
  const id = withNullParams ? sequence(oid(dotted), NULL) : sequence(oid(dotted));
  return { oid: dotted, algorithmIdentifier: id, hash };
}

const ECDSA_SHA256 = alg(OID.ecdsaWithSha256, 'sha256', false);
const ECDSA_SHA384 = alg(OID.ecdsaWithSha384, 'sha384', false);
const RSA_SHA256 = alg(OID.sha256WithRsa, 'sha256', true);
const ED25519 = alg(OID.ed25519, null, false);

const cache = new WeakMap<KeyObject, SignatureAlgorithm>();

/** The algorithm a key signs with: P-256 → ecdsa-with-SHA256, P-384 → ecdsa-with-SHA384, RSA → sha256WithRSAEncryption, Ed25519. */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm {
  const hit = cache.get(key);
  if (hit) return hit;
  let found: SignatureAlgorithm | undefined;
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') found = ECDSA_SHA256;
    else if (curve === 'secp384r1') found = ECDSA_SHA384;
  } else if (type === 'rsa') found = RSA_SHA256;
  else if (type === 'ed25519') found = ED25519;
  if (!found) {
    const detail = type === 'ec' ? ` (curve ${key.asymmetricKeyDetails?.namedCurve})` : '';
    throw new MeshError(
      'PKI_ERR_UNSUPPORTED_KEY',
      `cannot sign with a ${type}${detail} key; use EC P-256 (preferred), P-384, RSA or Ed25519`,
    );
  }
  cache.set(key, found);
  return found;
}

/** Signs `data` with `key` using its algorithm. */
export function signWith(key: KeyObject, data: Buffer): { algorithm: SignatureAlgorithm; signature: Buffer } {
  const algorithm = signatureAlgorithmFor(key);
  return { algorithm, signature: sign(algorithm.hash, data, key) };
}

const HASH_BY_OID: Record<string, string | null> = {
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
  [OID.sha256WithRsa]: 'sha256',
  [OID.sha384WithRsa]: 'sha384',
  [OID.sha512WithRsa]: 'sha512',
  [OID.ed25519]: null,
};

const FAMILY_BY_OID: Record<string, string> = {
  [OID.ecdsaWithSha256]: 'ec',
  [OID.ecdsaWithSha384]: 'ec',
  [OID.ecdsaWithSha512]: 'ec',
  [OID.sha256WithRsa]: 'rsa',
  [OID.sha384WithRsa]: 'rsa',
  [OID.sha512WithRsa]: 'rsa',
  [OID.ed25519]: 'ed25519',
};

/** True if the algorithm OID is one `verifySignature` knows. */
export function isKnownSignatureAlgorithm(dotted: string): boolean {
  return dotted in HASH_BY_OID;
}

/**
 * Verifies a signature made with the algorithm `dotted` by the holder of `publicKey`. False for a bad
 * signature, an unknown algorithm, or a key of the wrong family (never throws for those).
 */
export function verifySignature(
  dotted: string,
  data: Buffer,
  publicKey: KeyObject,
  signature: Buffer,
): boolean {
  if (!(dotted in HASH_BY_OID)) return false;
  if (FAMILY_BY_OID[dotted] !== publicKey.asymmetricKeyType) return false;
  try {
    return verify(HASH_BY_OID[dotted] ?? null, data, publicKey, signature);
  } catch {
    return false;
  }
}
