/**
 * Spec checks for ServiceEntry (networking.istio.io) and Gateway (gateway.networking.k8s.io).
 */
import type { Fields } from './fields.js';
import { show } from './fields.js';

type Obj = Record<string, unknown>;
const SE_PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'HTTP2', 'MONGO', 'TCP', 'TLS', 'UDP'];
const GW_PROTOCOLS = ['HTTP', 'HTTPS', 'TLS', 'TCP', 'UDP', 'HBONE'];

function checkServiceEntry(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  f.strings(spec.hosts, 'spec.hosts', { required: true, nonEmpty: true })?.forEach((h, i) => {
    if (h.length === 0 || /\s/.test(h)) f.add(`spec.hosts[${i}]`, `${show(h)} is not a host name`);
  });
  f.ipList(spec.addresses, 'spec.addresses', true);
  f.objects(spec.ports, 'spec.ports', (p, path) => {
    f.port(p.number, `${path}.number`, { required: true });
    f.port(p.targetPort, `${path}.targetPort`);
    f.string(p.name, `${path}.name`);
    const proto = f.string(p.protocol, `${path}.protocol`);
    if (proto !== undefined && !SE_PROTOCOLS.includes(proto.toUpperCase()))
      f.add(`${path}.protocol`, `${show(proto)} is not one of ${SE_PROTOCOLS.join(', ')}`);
  });
  f.oneOf(spec.location, 'spec.location', ['MESH_EXTERNAL', 'MESH_INTERNAL']);
  f.oneOf(spec.resolution, 'spec.resolution', ['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN']);
  f.objects(spec.endpoints, 'spec.endpoints', (e, path) => {
    f.string(e.address, `${path}.address`);
    const ports = f.object(e.ports, `${path}.ports`);
    if (ports) for (const [k, v] of Object.entries(ports)) f.port(v, `${path}.ports[${k}]`);
    f.labels(e.labels, `${path}.labels`);
    f.string(e.network, `${path}.network`);
    f.string(e.locality, `${path}.locality`);
    f.int(e.weight, `${path}.weight`, { min: 0 });
    f.string(e.serviceAccount, `${path}.serviceAccount`);
  });
  const ws = f.object(spec.workloadSelector, 'spec.workloadSelector');
  if (ws) f.labels(ws.labels, 'spec.workloadSelector.labels');
  if (ws && spec.endpoints !== undefined) f.add('spec', 'workloadSelector and endpoints cannot both be set');
  f.strings(spec.exportTo, 'spec.exportTo');
  f.strings(spec.subjectAltNames, 'spec.subjectAltNames');
}

function checkGateway(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  f.string(spec.gatewayClassName, 'spec.gatewayClassName', { required: true, nonEmpty: true });
  const names = new Set<string>();
  f.objects(
    spec.listeners,
    'spec.listeners',
    (l, path) => {
      const name = f.string(l.name, `${path}.name`, { required: true });
      if (name !== undefined) {
        f.dnsSubdomain(name, `${path}.name`);
        if (names.has(name)) f.add(`${path}.name`, `${show(name)} is used by another listener`);
        names.add(name);
      }
      f.port(l.port, `${path}.port`, { required: true });
      const proto = f.string(l.protocol, `${path}.protocol`, { required: true });
      if (
        proto !== undefined &&
        !GW_PROTOCOLS.includes(proto) &&
        !/^[a-z0-9.-]+\/[A-Za-z0-9_.-]+$/.test(proto)
      )
        f.add(
          `${path}.protocol`,
          `${show(proto)} is not one of ${GW_PROTOCOLS.join(', ')} (or a domain/NAME)`,
        );
      f.string(l.hostname, `${path}.hostname`);
      f.object(l.allowedRoutes, `${path}.allowedRoutes`);
    },
    { required: true, nonEmpty: true },
  );
  f.objects(spec.addresses, 'spec.addresses', (a, path) => {
    f.string(a.type, `${path}.type`);
    f.string(a.value, `${path}.value`, { required: true });
  });
}

export const MESH_CHECKS: Record<string, (f: Fields, o: Obj) => void> = {
  ServiceEntry: checkServiceEntry,
  Gateway: checkGateway,
};
