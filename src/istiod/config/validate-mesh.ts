/**
 * Spec checks for ServiceEntry and Gateway (networking.istio.io, "classic") and Gateway
 * (gateway.networking.k8s.io).
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
      const tls = f.object(l.tls, `${path}.tls`);
      if (tls) {
        f.oneOf(tls.mode, `${path}.tls.mode`, ['Terminate', 'Passthrough']);
        f.objects(tls.certificateRefs, `${path}.tls.certificateRefs`, (r, rp) => {
          f.string(r.name, `${rp}.name`, { required: true, nonEmpty: true });
          f.string(r.namespace, `${rp}.namespace`);
          f.string(r.kind, `${rp}.kind`);
          f.string(r.group, `${rp}.group`);
        });
      }
      if (
        proto === 'HTTPS' &&
        (tls?.mode ?? 'Terminate') === 'Terminate' &&
        !Array.isArray(tls?.certificateRefs)
      )
        f.add(
          `${path}.tls.certificateRefs`,
          'an HTTPS listener that terminates TLS needs the Secret of its certificate',
        );
      f.object(l.allowedRoutes, `${path}.allowedRoutes`);
    },
    { required: true, nonEmpty: true },
  );
  f.objects(spec.addresses, 'spec.addresses', (a, path) => {
    f.string(a.type, `${path}.type`);
    f.string(a.value, `${path}.value`, { required: true });
  });
}

const SERVER_PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS'];
const TLS_MODES = ['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'];

/** networking.istio.io Gateway: `selector` (gateway pods) and `servers` (port, hosts, tls). */
function checkIstioGateway(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  f.labels(spec.selector, 'spec.selector');
  const names = new Set<string>();
  f.objects(
    spec.servers,
    'spec.servers',
    (s, path) => {
      const port = f.object(s.port, `${path}.port`, { required: true });
      if (port) {
        f.port(port.number, `${path}.port.number`, { required: true });
        f.port(port.targetPort, `${path}.port.targetPort`);
        f.string(port.name, `${path}.port.name`, { required: true, nonEmpty: true });
        const proto = f.string(port.protocol, `${path}.port.protocol`, { required: true });
        if (proto !== undefined && !SERVER_PROTOCOLS.includes(proto.toUpperCase()))
          f.add(`${path}.port.protocol`, `${show(proto)} is not one of ${SERVER_PROTOCOLS.join(', ')}`);
      }
      f.strings(s.hosts, `${path}.hosts`, { required: true, nonEmpty: true })?.forEach((h, i) => {
        const slash = h.indexOf('/');
        const ns = slash >= 0 ? h.slice(0, slash) : undefined;
        const host = slash >= 0 ? h.slice(slash + 1) : h;
        const badNs =
          ns !== undefined && ns !== '*' && ns !== '.' && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns);
        if (badNs || host === '' || host.includes('/') || /\s/.test(host))
          f.add(
            `${path}.hosts[${i}]`,
            `${show(h)} is not a host (HOST, NAMESPACE/HOST, ./HOST or */HOST; HOST may be * or *.DOMAIN)`,
          );
      });
      const name = f.string(s.name, `${path}.name`);
      if (name !== undefined) {
        if (names.has(name)) f.add(`${path}.name`, `${show(name)} is used by another server`);
        names.add(name);
      }
      f.string(s.bind, `${path}.bind`);
      const tls = f.object(s.tls, `${path}.tls`);
      if (tls) {
        f.oneOf(tls.mode, `${path}.tls.mode`, TLS_MODES);
        f.bool(tls.httpsRedirect, `${path}.tls.httpsRedirect`);
        f.string(tls.credentialName, `${path}.tls.credentialName`);
      }
    },
    { required: true, nonEmpty: true },
  );
}

export const MESH_CHECKS: Record<string, (f: Fields, o: Obj) => void> = {
  ServiceEntry: checkServiceEntry,
  Gateway: checkGateway,
  IstioGateway: checkIstioGateway,
};
