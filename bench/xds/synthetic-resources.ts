/**
 * Pre-built xDS resources of a synthetic cluster (the benchmark's `resources` server mode: the delta
 * xDS server alone, no index): pods, services and policies as plain protobufjs objects.
 */
import type { Address } from '../../src/xds/workload-types.js';
import type { Authorization } from '../../src/xds/security-types.js';
import type { MeshScale } from './synthetic-mesh.js';

function ip(i: number, base: number): Uint8Array {
  return Uint8Array.of(10, base, (i >> 8) & 255, i & 255);
}

export function podAddress(i: number, rev: number, scale: MeshScale): Address {
  const svc = i % scale.services;
  return {
    workload: {
      uid: `Kubernetes//Pod/ns-${svc % 50}/app-${i}`,
      name: `app-${i}-7d9f8c6b5-x2k4p`,
      namespace: `ns-${svc % 50}`,
      addresses: [ip(i, 244)],
      network: '',
      tunnelProtocol: 1,
      trustDomain: 'cluster.local',
      serviceAccount: `svc-${svc}`,
      node: `node-${i % 50}`,
      canonicalName: `svc-${svc}`,
      canonicalRevision: `v${rev}`,
      workloadType: 2,
      workloadName: `app-${i}`,
      services: {
        [`ns-${svc % 50}/svc-${svc}.ns-${svc % 50}.svc.cluster.local`]: {
          ports: [{ servicePort: 80, targetPort: 8080 }],
        },
      },
      status: 0,
      clusterId: 'Kubernetes',
      locality: { region: 'eu-west-1', zone: `eu-west-1${'abc'[i % 3]}` },
    },
  };
}

export function serviceAddress(s: number): Address {
  const ns = `ns-${s % 50}`;
  return {
    service: {
      name: `svc-${s}`,
      namespace: ns,
      hostname: `svc-${s}.${ns}.svc.cluster.local`,
      addresses: [{ network: '', address: ip(s, 96) }],
      ports: [
        { servicePort: 80, targetPort: 8080 },
        { servicePort: 9090, targetPort: 9090 },
      ],
    },
  };
}

export function policy(p: number): Authorization {
  return {
    name: `allow-${p}`,
    namespace: `ns-${p % 50}`,
    scope: 2,
    action: 0,
    groups: [
      {
        rules: [
          { matches: [{ principals: [{ exact: `cluster.local/ns/ns-${(p + 1) % 50}/sa/svc-${p}` }] }] },
          { matches: [{ destinationPorts: [8080] }] },
        ],
      },
    ],
  };
}
