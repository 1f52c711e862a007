/**
 * The benchmark's certificates: one mesh PKI (root → intermediate → two workload leaves), written as
 * PEM files so that our proxies (child processes) and haproxy load exactly the same keys.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createIntermediateCa, createRootCa, issueWorkloadCertificate } from '../../src/pki/ca.js';
import { Credentials } from '../../src/hbone/credentials.js';

export const TRUST_DOMAIN = 'cluster.local';
export const NAMESPACE = 'bench';
/** Proxy A is the client side (source workload), proxy B the server side (destination). */
export const SERVICE_ACCOUNTS = { a: 'client', b: 'server' } as const;
export type Side = keyof typeof SERVICE_ACCOUNTS;

export function spiffeOf(side: Side): string {
  return `spiffe://${TRUST_DOMAIN}/ns/${NAMESPACE}/sa/${SERVICE_ACCOUNTS[side]}`;
}

/** Files in `dir`: root.pem, <side>-key.pem, <side>-chain.pem (leaf + intermediate), <side>.pem (haproxy: chain + key). */
export function writeMaterials(dir: string): void {
  const root = createRootCa({ commonName: 'bench root' });
  const issuer = createIntermediateCa(root, { commonName: 'bench intermediate' });
  writeFileSync(join(dir, 'root.pem'), root.rootPem);
  for (const side of ['a', 'b'] as const) {
    const w = issueWorkloadCertificate(issuer, {
      trustDomain: TRUST_DOMAIN,
      namespace: NAMESPACE,
      serviceAccount: SERVICE_ACCOUNTS[side],
    });
    const presented = w.chainPem.slice(0, -1).map((p) => p.trim() + '\n');
    writeFileSync(join(dir, `${side}-key.pem`), w.keyPem);
    writeFileSync(join(dir, `${side}-chain.pem`), presented.join(''));
    writeFileSync(join(dir, `${side}.pem`), presented.join('') + w.keyPem.trim() + '\n');
  }
}

export function loadCredentials(dir: string, side: Side): Credentials {
  const chain = readFileSync(join(dir, `${side}-chain.pem`), 'utf8').match(
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g,
  );
  if (!chain) throw new Error(`bench: no certificate in ${join(dir, `${side}-chain.pem`)}`);
  return new Credentials(readFileSync(join(dir, `${side}-key.pem`), 'utf8'), chain, [
    readFileSync(join(dir, 'root.pem'), 'utf8'),
  ]);
}
