/**
 * The files two loopback ztunnels need to run without istiod: a CA directory both share (so each
 * trusts the other's workload certificates) and a state file with a client pod on node-1 and a
 * server pod (behind a service) on node-2. Addresses are 127.<net>.<node>.<host>.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createIntermediateCa, createRootCa } from '../../src/pki/ca.js';

export interface MeshAddresses {
  node1: string;
  node2: string;
  client: string;
  server: string;
  serverPort: number;
  vip: string;
  serviceHost: string;
}

export function meshAddresses(net: number): MeshAddresses {
  return {
    node1: `127.${net}.1.1`,
    node2: `127.${net}.2.1`,
    client: `127.${net}.1.2`,
    server: `127.${net}.2.5`,
    serverPort: 8080,
    vip: `10.96.${net}.10`,
    serviceHost: 'server.default.svc.cluster.local',
  };
}

/** Writes ca-cert.pem, ca-key.pem, cert-chain.pem (an intermediate under a fresh root) into `dir`. */
export function writeCaDir(dir: string): void {
  const ca = createIntermediateCa(createRootCa({ commonName: 'bench root' }));
  writeFileSync(join(dir, 'ca-cert.pem'), ca.certPem);
  writeFileSync(join(dir, 'ca-key.pem'), ca.key.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'cert-chain.pem'), ca.chainPem.join(''));
}

/** Writes `state-<net>.yaml` into `dir` and returns its path. */
export function writeStateFile(dir: string, a: MeshAddresses, name: string): string {
  const yaml = `workloads:
  - uid: Kubernetes//Pod/default/client
    name: client
    namespace: default
    addresses: [${a.client}]
    tunnelProtocol: HBONE
    serviceAccount: client
    node: node-1
  - uid: Kubernetes//Pod/default/server
    name: server
    namespace: default
    addresses: [${a.server}]
    tunnelProtocol: HBONE
    serviceAccount: server
    node: node-2
    services:
      default/${a.serviceHost}: [{ servicePort: 80, targetPort: ${a.serverPort} }]
services:
  - name: server
    namespace: default
    hostname: ${a.serviceHost}
    addresses: [${a.vip}]
    ports: [{ servicePort: 80, targetPort: ${a.serverPort} }]
`;
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
}
