/** istio.workload.Workload (wire) → Workload (internal), with field-path validation. */
import { parseSpiffeUri, spiffeUri, type SpiffeId } from '../../pki/spiffe.js';
import type { Workload as WireWorkload } from '../../xds/workload-types.js';
import { checkPort, enumOf, gatewayOf, result, type Converted } from './convert-common.js';
import { badAddressBytes, bytesToIp } from './ip.js';
import type { Workload, WorkloadKind } from './types.js';

const KINDS: readonly WorkloadKind[] = ['deployment', 'cronjob', 'pod', 'job'];
const STATUS: readonly boolean[] = [true, false];
const DEFAULT_TRUST_DOMAIN = 'cluster.local';
const DEFAULT_SERVICE_ACCOUNT = 'default';

export function convertWorkload(w: WireWorkload): Converted<Workload> {
  const errors: string[] = [];
  const uid = w.uid ?? '';
  const name = w.name ?? '';
  const namespace = w.namespace ?? '';
  if (!uid) errors.push('workload.uid: empty');
  if (!name) errors.push('workload.name: empty');
  if (!namespace) errors.push('workload.namespace: empty');

  const ips: string[] = [];
  (w.addresses ?? []).forEach((a, i) => {
    const bad = badAddressBytes(a);
    if (bad) errors.push(`workload.addresses[${i}]: ${bad}`);
    else ips.push(bytesToIp(a) as string);
  });

  const tp = w.tunnelProtocol ?? 0;
  if (tp === 2) errors.push('workload.tunnelProtocol: LEGACY_ISTIO_MTLS is not supported by this ztunnel');
  else if (tp !== 0 && tp !== 1) errors.push(`workload.tunnelProtocol: unknown value ${String(tp)}`);

  const identity: SpiffeId = {
    trustDomain: w.trustDomain || DEFAULT_TRUST_DOMAIN,
    namespace,
    serviceAccount: w.serviceAccount || DEFAULT_SERVICE_ACCOUNT,
  };
  const identityUri = spiffeUri(identity);
  if (namespace && !parseSpiffeUri(identityUri)) {
    errors.push(
      `workload.trustDomain/serviceAccount: "${identityUri}" is not a valid SPIFFE id ` +
        '(trust domain: lowercase letters, digits, ".-_"; segments: letters, digits, ".-_")',
    );
  }

  const services = new Map<string, Map<number, number>>();
  for (const [key, list] of Object.entries(w.services ?? {})) {
    const path = `workload.services["${key}"]`;
    const slash = key.indexOf('/');
    if (slash <= 0 || slash === key.length - 1) {
      errors.push(`${path}: key must be "<namespace>/<hostname>"`);
      continue;
    }
    const ports = new Map<number, number>();
    (list?.ports ?? []).forEach((p, i) => {
      const sp = checkPort(p.servicePort, `${path}.ports[${i}].servicePort`, errors, false);
      const tp2 = checkPort(p.targetPort, `${path}.ports[${i}].targetPort`, errors, true);
      if (sp) ports.set(sp, tp2);
    });
    services.set(key, ports);
  }

  const policies: string[] = [];
  (w.authorizationPolicies ?? []).forEach((p, i) => {
    if (!/^[^/]+\/[^/]+$/.test(p))
      errors.push(`workload.authorizationPolicies[${i}]: "${p}" is not "<namespace>/<name>"`);
    else policies.push(p);
  });

  const cap = w.capacity?.value;
  if (cap !== undefined && (!Number.isInteger(cap) || cap < 0)) {
    errors.push(`workload.capacity: ${String(cap)} is not a non-negative integer`);
  }

  const value: Workload = {
    uid,
    name,
    namespace,
    ips,
    hostname: w.hostname ?? '',
    network: w.network ?? '',
    node: w.node ?? '',
    clusterId: w.clusterId ?? '',
    identity,
    identityUri,
    protocol: tp === 1 ? 'HBONE' : 'NONE',
    waypoint: gatewayOf(w.waypoint, 'workload.waypoint', errors),
    networkGateway: gatewayOf(w.networkGateway, 'workload.networkGateway', errors),
    services,
    healthy: enumOf(w.status, STATUS, 'workload.status', errors),
    canonicalName: w.canonicalName ?? '',
    canonicalRevision: w.canonicalRevision ?? '',
    workloadName: w.workloadName ?? '',
    workloadType: enumOf(w.workloadType, KINDS, 'workload.workloadType', errors),
    locality: {
      region: w.locality?.region ?? '',
      zone: w.locality?.zone ?? '',
      subzone: w.locality?.subzone ?? '',
    },
    capacity: cap ?? 1,
    authorizationPolicies: policies,
    nativeTunnel: w.nativeTunnel ?? false,
  };
  return result(value, errors);
}
