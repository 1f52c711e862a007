/** Key pairs for workloads and CAs: ECDSA P-256, generated natively by node:crypto. */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { MeshError } from '../common/errors.js';

export function generateKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** The private key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
export function privateKeyPem(key: KeyObject): string {
  if (key.type !== 'private')
    throw new MeshError('PKI_ERR_BAD_KEY', `expected a private key, got a ${key.type} key`);
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** Reads a private key from PEM (PKCS#8, SEC1 or PKCS#1); throws PKI_ERR_BAD_KEY naming `what` on failure. */
export function loadPrivateKey(pem: string, what: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new MeshError(
      'PKI_ERR_BAD_KEY',
      `cannot read the ${what} as a PEM private key (unencrypted PKCS#8, SEC1 or PKCS#1)`,
      {
        cause: err,
      },
    );
  }
}
