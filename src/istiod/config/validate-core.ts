/**
 * Spec checks for the Kubernetes kinds: Namespace, Pod, Service, Secret, EndpointSlice, Deployment.
 */
import type { Fields } from './fields.js';
import { isObj } from './fields.js';
import { isBase64, secretValue, tlsPairOf, TLS_SECRET_TYPE } from './tls-secret.js';
import type { Secret } from './types-core.js';

type Obj = Record<string, unknown>;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

export function checkPodSpec(f: Fields, spec: Obj, path: string): void {
  f.string(spec.nodeName, `${path}.nodeName`);
  const sa = f.string(spec.serviceAccountName, `${path}.serviceAccountName`);
  if (sa) f.dnsSubdomain(sa, `${path}.serviceAccountName`);
  f.bool(spec.hostNetwork, `${path}.hostNetwork`);
  f.objects(
    spec.containers,
    `${path}.containers`,
    (c, p) => {
      const name = f.string(c.name, `${p}.name`, { required: true });
      if (name) f.dnsLabel(name, `${p}.name`);
      f.string(c.image, `${p}.image`);
      f.strings(c.command, `${p}.command`);
      f.strings(c.args, `${p}.args`);
      f.objects(c.ports, `${p}.ports`, (port, pp) => {
        f.port(port.containerPort, `${pp}.containerPort`, { required: true });
        f.string(port.name, `${pp}.name`);
        f.oneOf(port.protocol, `${pp}.protocol`, PROTOCOLS);
      });
    },
    { required: true, nonEmpty: true },
  );
}

function checkPod(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (spec) checkPodSpec(f, spec, 'spec');
  const status = f.object(o.status, 'status');
  if (!status) return;
  f.oneOf(status.phase, 'status.phase', ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']);
  f.ip(status.podIP, 'status.podIP');
  f.ip(status.hostIP, 'status.hostIP');
  f.objects(status.podIPs, 'status.podIPs', (p, path) => f.ip(p.ip, `${path}.ip`, { required: true }));
  f.objects(status.conditions, 'status.conditions', (c, path) => {
    f.string(c.type, `${path}.type`, { required: true });
    f.oneOf(c.status, `${path}.status`, ['True', 'False', 'Unknown'], { required: true });
  });
}

function checkService(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  f.oneOf(spec.type, 'spec.type', ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']);
  f.labels(spec.selector, 'spec.selector');
  if (spec.clusterIP !== 'None' && spec.clusterIP !== '') f.ip(spec.clusterIP, 'spec.clusterIP');
  const ips = f.strings(spec.clusterIPs, 'spec.clusterIPs');
  if (ips && !(ips.length === 1 && ips[0] === 'None')) f.ipList(ips, 'spec.clusterIPs', false);
  const ports = f.array(spec.ports, 'spec.ports');
  f.objects(spec.ports, 'spec.ports', (p, path) => {
    f.port(p.port, `${path}.port`, { required: true });
    f.portOrName(p.targetPort, `${path}.targetPort`);
    f.oneOf(p.protocol, `${path}.protocol`, PROTOCOLS);
    f.string(p.appProtocol, `${path}.appProtocol`);
    const name = f.string(p.name, `${path}.name`, { required: (ports?.length ?? 0) > 1 });
    if (name) f.dnsLabel(name, `${path}.name`);
  });
}

/**
 * discovery.k8s.io/v1beta1 (what Kubernetes 1.17-1.20 serve) in the v1 shape, in place: an endpoint's
 * `topology` map becomes `nodeName` (kubernetes.io/hostname), `zone` (topology.kubernetes.io/zone) and
 * `deprecatedTopology` (the rest), as the API server converts it.
 */
export function endpointSliceAsV1(o: Obj): void {
  if (o.apiVersion !== 'discovery.k8s.io/v1beta1') return;
  o.apiVersion = 'discovery.k8s.io/v1';
  if (!Array.isArray(o.endpoints)) return;
  for (const e of o.endpoints as unknown[]) {
    if (!isObj(e) || !isObj(e.topology)) continue;
    const { 'kubernetes.io/hostname': host, 'topology.kubernetes.io/zone': zone, ...rest } = e.topology;
    if (e.nodeName === undefined && typeof host === 'string') e.nodeName = host;
    if (e.zone === undefined && typeof zone === 'string') e.zone = zone;
    if (Object.keys(rest).length > 0) e.deprecatedTopology = rest;
    delete e.topology;
  }
}

function checkEndpointSlice(f: Fields, o: Obj): void {
  endpointSliceAsV1(o);
  // A Service without endpoints gets a slice with `endpoints: null` (omitted in JSON) from the
  // controller manager: no endpoints, not an error.
  if (o.endpoints === undefined || o.endpoints === null) o.endpoints = [];
  const type = f.oneOf(o.addressType, 'addressType', ['IPv4', 'IPv6', 'FQDN'], { required: true });
  f.objects(o.endpoints, 'endpoints', (e, path) => {
    if (type === 'FQDN') f.strings(e.addresses, `${path}.addresses`, { required: true, nonEmpty: true });
    else f.ipList(e.addresses, `${path}.addresses`, false);
    if (e.addresses === undefined) f.add(`${path}.addresses`, 'is required');
    const cond = f.object(e.conditions, `${path}.conditions`);
    if (cond) for (const k of ['ready', 'serving', 'terminating']) f.bool(cond[k], `${path}.conditions.${k}`);
    f.string(e.nodeName, `${path}.nodeName`);
    f.string(e.zone, `${path}.zone`);
    f.stringMap(e.deprecatedTopology, `${path}.deprecatedTopology`);
    f.string(e.hostname, `${path}.hostname`);
    f.object(e.targetRef, `${path}.targetRef`);
  });
  f.objects(o.ports, 'ports', (p, path) => {
    f.port(p.port, `${path}.port`);
    f.string(p.name, `${path}.name`);
    f.oneOf(p.protocol, `${path}.protocol`, PROTOCOLS);
    f.string(p.appProtocol, `${path}.appProtocol`);
  });
}

function checkDeployment(f: Fields, o: Obj): void {
  const spec = f.object(o.spec, 'spec', { required: true });
  if (!spec) return;
  f.int(spec.replicas, 'spec.replicas', { min: 0 });
  const selector = f.object(spec.selector, 'spec.selector', { required: true });
  const matchLabels = selector
    ? f.object(selector.matchLabels, 'spec.selector.matchLabels', { required: true })
    : undefined;
  if (matchLabels) f.labels(matchLabels, 'spec.selector.matchLabels');
  const template = f.object(spec.template, 'spec.template', { required: true });
  if (!template) return;
  const meta = f.object(template.metadata, 'spec.template.metadata');
  const labels = meta ? f.object(meta.labels, 'spec.template.metadata.labels') : undefined;
  if (labels) f.labels(labels, 'spec.template.metadata.labels');
  if (matchLabels && isObj(matchLabels)) {
    for (const [k, v] of Object.entries(matchLabels))
      if (labels?.[k] !== v) {
        f.add('spec.template.metadata.labels', `must include the selector's labels (${k}=${String(v)})`);
        break;
      }
  }
  const podSpec = f.object(template.spec, 'spec.template.spec', { required: true });
  if (podSpec) checkPodSpec(f, podSpec, 'spec.template.spec');
}

/**
 * A Secret: `data` values are base64 (as the API server requires), `stringData` plain text. A
 * `kubernetes.io/tls` Secret must hold a certificate chain and the private key of its first
 * certificate; other types are checked only when a gateway names them.
 */
function checkSecret(f: Fields, o: Obj): void {
  f.string(o.type, 'type');
  const data = f.stringMap(o.data, 'data');
  for (const [k, v] of Object.entries(data ?? {}))
    if (typeof v === 'string' && !isBase64(v))
      f.add(`data[${k}]`, 'is not base64 (data values are base64; use stringData for plain text)');
  f.stringMap(o.stringData, 'stringData');
  if (o.type !== TLS_SECRET_TYPE || f.issues.length > 0) return;
  const s = o as Pick<Secret, 'data' | 'stringData'>;
  for (const k of ['tls.crt', 'tls.key'])
    if (secretValue(s, k) === undefined) f.add(`data[${k}]`, `is required in a ${TLS_SECRET_TYPE} Secret`);
  if (f.issues.length > 0) return;
  const { error } = tlsPairOf(s);
  if (error) f.add('data', error);
}

export const CORE_CHECKS: Record<string, (f: Fields, o: Obj) => void> = {
  Namespace: () => undefined,
  Secret: checkSecret,
  Pod: checkPod,
  Service: checkService,
  EndpointSlice: checkEndpointSlice,
  Deployment: checkDeployment,
};
