/**
 * The waypoint benchmark's certificates: one mesh PKI (root → intermediate → leaves) for the client
 * workload (presented by the client-side ztunnel), the waypoint and the server workload (presented by
 * the server-side ztunnel), written as PEM files that every child process loads.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createIntermediateCa, createRootCa, issueWorkloadCertificate } from '../../src/pki/ca.js';
import { Credentials } from '../../src/hbone/credentials.js';

export const NAMESPACE = 'default';
export const ROLES = { client: 'curl', waypoint: 'waypoint', server: 'echo' } as const;
export type Role = keyof typeof ROLES;

export function spiffeOf(role: Role): string {
  return `spiffe://cluster.local/ns/${NAMESPACE}/sa/${ROLES[role]}`;
}

export function writeMaterials(dir: string): void {
  const root = createRootCa({ commonName: 'bench root' });
  const issuer = createIntermediateCa(root, { commonName: 'bench intermediate' });
  writeFileSync(join(dir, 'root.pem'), root.rootPem);
  for (const role of Object.keys(ROLES) as Role[]) {
    const w = issueWorkloadCertificate(issuer, {
      trustDomain: 'cluster.local',
      namespace: NAMESPACE,
      serviceAccount: ROLES[role],
    });
    writeFileSync(join(dir, `${role}-key.pem`), w.keyPem);
    writeFileSync(join(dir, `${role}-chain.pem`), w.chainPem.slice(0, -1).join('\n'));
  }
}

/** PEM texts, so that a child built from another tree can make its own Credentials from them. */
export function readMaterials(dir: string, role: Role): { key: string; chain: string[]; root: string } {
  const chain = readFileSync(join(dir, `${role}-chain.pem`), 'utf8').match(
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g,
  );
  if (!chain) throw new Error(`bench: no certificate in ${join(dir, `${role}-chain.pem`)}`);
  return {
    key: readFileSync(join(dir, `${role}-key.pem`), 'utf8'),
    chain,
    root: readFileSync(join(dir, 'root.pem'), 'utf8'),
  };
}

export function loadCredentials(dir: string, role: Role): Credentials {
  const m = readMaterials(dir, role);
  return new Credentials(m.key, m.chain, [m.root]);
}
