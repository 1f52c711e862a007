import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createCsr } from '../../../../src/pki/csr.js';
import { generateKeyPair } from '../../../../src/pki/keys.js';
import type { SpiffeId } from '../../../../src/pki/spiffe.js';

export const TD = 'cluster.local';

export function sid(namespace: string, serviceAccount: string, trustDomain = TD): SpiffeId {
  return { trustDomain, namespace, serviceAccount };
}

export function ecCsr(uris: string[], dnsNames: string[] = []): string {
  const { privateKey, publicKey } = generateKeyPair();
  return createCsr({ privateKey, publicKey, uris, dnsNames });
}

export function rsaCsr(bits: number, uris: string[]): string {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return createCsr({ privateKey, publicKey, uris });
}

/** A CSR whose signature was made by another key than the one it carries. */
export function forgedCsr(uris: string[]): string {
  const a = generateKeyPair();
  const b: { publicKey: KeyObject } = generateKeyPair();
  return createCsr({ privateKey: a.privateKey, publicKey: b.publicKey, uris });
}
