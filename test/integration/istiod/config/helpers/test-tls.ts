/**
 * A serving certificate for the test API servers: a fresh root and a leaf for the name `localhost`
 * (the servers listen on 127.0.0.1; clients connect there and check the name through tls-server-name,
 * as kubeconfigs for an API server behind an address without its name in the certificate do).
 */
import { generateKeyPairSync } from 'node:crypto';
import { createRootCa, issueLeaf } from '../../../../../src/pki/ca.js';

export const TEST_SERVER_NAME = 'localhost';

export interface TestServingCert {
  key: string;
  cert: string;
  /** The root to trust, PEM. */
  caPem: string;
}

export function testServingCert(): TestServingCert {
  const ca = createRootCa({ commonName: 'test API server CA' });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = issueLeaf(ca, { publicKey, dnsNames: [TEST_SERVER_NAME], validityMs: 24 * 3600_000 });
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert, caPem: ca.rootPem };
}
