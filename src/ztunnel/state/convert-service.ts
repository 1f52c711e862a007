/** istio.workload.Service (wire) → Service (internal), with field-path validation. */
import type { Service as WireService } from '../../xds/workload-types.js';
import { checkPort, enumOf, gatewayOf, result, type Converted } from './convert-common.js';
import { badAddressBytes, bytesToIp } from './ip.js';
import type {
  AppProtocol,
  HealthPolicy,
  LbMode,
  LbScope,
  LoadBalancing,
  Service,
  ServicePort,
  Vip,
} from './types.js';

const APP: readonly AppProtocol[] = ['unknown', 'http11', 'http2', 'grpc', 'tcp', 'tls'];
const MODES: readonly LbMode[] = ['standard', 'strict', 'failover', 'passthrough'];
const HEALTH: readonly HealthPolicy[] = ['only-healthy', 'allow-all'];
const SCOPES: readonly (LbScope | undefined)[] = [
  undefined,
  'region',
  'zone',
  'subzone',
  'node',
  'cluster',
  'network',
];

export function convertService(s: WireService): Converted<Service> {
  const errors: string[] = [];
  const name = s.name ?? '';
  const namespace = s.namespace ?? '';
  const hostname = s.hostname ?? '';
  if (!name) errors.push('service.name: empty');
  if (!namespace) errors.push('service.namespace: empty');
  if (!hostname) errors.push('service.hostname: empty');

  const vips: Vip[] = [];
  (s.addresses ?? []).forEach((a, i) => {
    const bad = badAddressBytes(a.address);
    if (bad) {
      errors.push(`service.addresses[${i}].address: ${bad}`);
      return;
    }
    const bytes = a.address as Uint8Array;
    if (a.length !== undefined && a.length !== 0 && a.length !== bytes.length * 8) {
      errors.push(`service.addresses[${i}].length: a service VIP is one address, not a /${a.length} range`);
      return;
    }
    vips.push({ network: a.network ?? '', ip: bytesToIp(bytes) as string });
  });

  const ports = new Map<number, ServicePort>();
  (s.ports ?? []).forEach((p, i) => {
    const path = `service.ports[${i}]`;
    const servicePort = checkPort(p.servicePort, `${path}.servicePort`, errors, false);
    const targetPort = checkPort(p.targetPort, `${path}.targetPort`, errors, true);
    const appProtocol = enumOf(p.appProtocol, APP, `${path}.appProtocol`, errors);
    if (!servicePort) return;
    if (ports.has(servicePort)) errors.push(`${path}.servicePort: ${servicePort} is listed twice`);
    ports.set(servicePort, { servicePort, targetPort, appProtocol });
  });

  let loadBalancing: LoadBalancing | undefined;
  if (s.loadBalancing) {
    const lb = s.loadBalancing;
    const routingPreference: LbScope[] = [];
    (lb.routingPreference ?? []).forEach((v, i) => {
      const scope = Number.isInteger(v) ? SCOPES[v] : undefined;
      if (scope) routingPreference.push(scope);
      else errors.push(`service.loadBalancing.routingPreference[${i}]: unknown scope ${String(v)}`);
    });
    loadBalancing = {
      routingPreference,
      mode: enumOf(lb.mode, MODES, 'service.loadBalancing.mode', errors),
      healthPolicy: enumOf(lb.healthPolicy, HEALTH, 'service.loadBalancing.healthPolicy', errors),
    };
  }

  const value: Service = {
    name,
    namespace,
    hostname,
    key: `${namespace}/${hostname}`,
    vips,
    ports,
    subjectAltNames: [...(s.subjectAltNames ?? [])],
    waypoint: gatewayOf(s.waypoint, 'service.waypoint', errors),
    loadBalancing,
  };
  return result(value, errors);
}
