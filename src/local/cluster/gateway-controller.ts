/**
 * The local cluster's controller for ingress Gateways of class `istio` (what istiod's gateway
 * controller does in Kubernetes): per Gateway a Deployment, Service (type LoadBalancer, the listener
 * ports) and service account `<name>-istio`, a bootstrap token for the gateway's certificate, and the
 * Gateway's `status` (the Service address; Accepted; Programmed once the gateway has its
 * configuration; per listener the routes attached and its conditions). The gateway pod is outside
 * ambient capture and never injected: it speaks HBONE itself.
 *
 * Istio's classic ingress too: Istio's install deploys `istio-ingressgateway` (labels
 * `istio: ingressgateway`, `app: istio-ingressgateway`) in istio-system; here it is deployed while a
 * `networking.istio.io` Gateway selects those labels (its Service carries the HTTP server ports of
 * every such Gateway, HTTP and HTTPS, and 15021), and removed when none does. VirtualServices whose `gateways` name
 * a Gateway that does not exist get Istio's IST0101 (ReferencedResourceNotFound) in their status.
 */
import { readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { stringify } from 'yaml';
import { addNodeToken, removeNodeToken } from '../../istiod/ca/local-tokens.js';
import { readObjects, type Obj } from './manifests.js';
import { listenerStatuses, type ListenerRefs } from '../../istiod/l7/gateway-configs.js';
import { ReferenceGrants } from '../../istiod/l7/reference-grants.js';
import type { Gateway, HTTPRoute, ReferenceGrant, Secret, TLSRoute } from '../../istiod/config/types.js';
import { GENERATED_BY } from './waypoint-controller.js';
import { condition } from '../../common/conditions.js';
import { kindIdOf } from '../../istiod/config/kinds.js';
import { writeVirtualServiceStatus } from './vs-status.js';
import { writeFileAtomic } from '../../common/atomic-file.js';

const CONTROLLER = 'gateway-controller';
const CLASSIC_ANNOTATION = 'meshlite.io/classic-ingress';

export interface GatewayControllerOptions {
  configDir: string;
  stateDir: string;
  logsDir: string;
  tokensFile: string;
  xdsAddress: string;
  execPath: string;
}

const rec = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

export const ingressDeployment = (gw: string): string => `${gw}-istio`;

interface Listener {
  name: string;
  port: number;
  protocol: string;
}

function listenersOf(o: Obj): Listener[] {
  const spec = rec(o.spec);
  return (Array.isArray(spec.listeners) ? spec.listeners.map(rec) : []).map((l) => ({
    name: String(l.name ?? ''),
    port: Number(l.port),
    protocol: String(l.protocol ?? ''),
  }));
}

function isIngress(o: Obj): boolean {
  return kindIdOf(o) === 'Gateway' && rec(o.spec).gatewayClassName === 'istio';
}

/** Istio's default ingress gateway: namespace, name, pod labels, service account. */
export const CLASSIC_INGRESS = {
  namespace: 'istio-system',
  name: 'istio-ingressgateway',
  labels: { app: 'istio-ingressgateway', istio: 'ingressgateway' } as Record<string, string>,
  serviceAccount: 'istio-ingressgateway-service-account',
};
const CLASSIC_OWNER = `${CLASSIC_INGRESS.namespace}/${CLASSIC_INGRESS.name}`;
const HTTP_SERVER = new Set(['HTTP', 'HTTP2', 'GRPC']);

/** A port the gateway's Service carries; `tls`: HTTPS, terminated at the gateway; `passthrough`: TLS sent on as it is. */
interface GatewayPort {
  port: number;
  tls: boolean;
  passthrough?: boolean;
}

/** A networking.istio.io Gateway whose selector picks the default ingress gateway's pods. */
function selectsClassicIngress(o: Obj): boolean {
  if (kindIdOf(o) !== 'IstioGateway') return false;
  const sel = rec(rec(o.spec).selector);
  const keys = Object.keys(sel);
  return keys.length > 0 && keys.every((k) => CLASSIC_INGRESS.labels[k] === sel[k]);
}

/** The ports of a classic Gateway's servers: HTTP ones, and HTTPS ones that terminate TLS (SIMPLE, MUTUAL, OPTIONAL_MUTUAL). */
function serverPorts(o: Obj): GatewayPort[] {
  const servers = rec(o.spec).servers;
  const out: GatewayPort[] = [];
  for (const s of Array.isArray(servers) ? servers.map(rec) : []) {
    const protocol = String(rec(s.port).protocol ?? '').toUpperCase();
    const port = Number(rec(s.port).number);
    if (!Number.isInteger(port) || port <= 0 || port >= 65536) continue;
    const mode = rec(s.tls).mode;
    const redirect = rec(s.tls).httpsRedirect === true && mode === undefined;
    if (HTTP_SERVER.has(protocol) && (!s.tls || redirect)) out.push({ port, tls: false });
    else if ((protocol === 'TLS' || protocol === 'HTTPS') && mode === 'PASSTHROUGH')
      out.push({ port, tls: false, passthrough: true });
    else if (protocol === 'HTTPS' && (mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL'))
      out.push({ port, tls: true });
  }
  return out;
}

/** One entry per port (the first listener or server on a port decides whether it is TLS), in order. */
function uniquePorts(ports: GatewayPort[]): GatewayPort[] {
  const by = new Map<number, GatewayPort>();
  for (const p of ports) if (!by.has(p.port)) by.set(p.port, p);
  return [...by.values()].sort((a, b) => a.port - b.port);
}

/** The Secrets and ReferenceGrants among the config objects (for HTTPS listeners' certificates). */
function refsOf(all: Array<{ obj: Obj }>): ListenerRefs {
  const by = new Map<string, Secret>();
  const grants: ReferenceGrant[] = [];
  for (const { obj } of all) {
    const kind = kindIdOf(obj);
    const m = rec(obj.metadata);
    if (kind === 'Secret')
      by.set(`${String(m.namespace ?? 'default')}/${String(m.name)}`, obj as unknown as Secret);
    else if (kind === 'ReferenceGrant') grants.push(obj as unknown as ReferenceGrant);
  }
  return { secret: (ns, name) => by.get(`${ns}/${name}`), grants: new ReferenceGrants(grants) };
}

const fileName = (kind: string, ns: string, name: string): string =>
  `${kind.toLowerCase()}-${ns}-${name}.yaml`;

export class GatewayController {
  constructor(private readonly o: GatewayControllerOptions) {}

  tokenFile(ns: string, name: string): string {
    return join(this.o.stateDir, `gateway-${ns}-${name}.token`);
  }

  desired(ns: string, gw: string, listeners: Listener[]): Obj[] {
    const name = ingressDeployment(gw);
    const ports = uniquePorts(
      listeners
        .filter((l) => l.protocol === 'HTTP' || l.protocol === 'HTTPS' || l.protocol === 'TLS')
        .map((l) => ({ port: l.port, tls: l.protocol === 'HTTPS', passthrough: l.protocol === 'TLS' })),
    );
    return this.objects({
      ns,
      name,
      selector: { 'gateway.networking.k8s.io/gateway-name': gw },
      owner: `${ns}/${gw}`,
      serviceAccount: name,
      ports,
    });
  }

  /** Istio's `istio-ingressgateway` Deployment and Service, serving `ports`. */
  classicDesired(ports: GatewayPort[]): Obj[] {
    return this.objects({
      ns: CLASSIC_INGRESS.namespace,
      name: CLASSIC_INGRESS.name,
      selector: CLASSIC_INGRESS.labels,
      owner: CLASSIC_OWNER,
      serviceAccount: CLASSIC_INGRESS.serviceAccount,
      ports: uniquePorts(ports),
      classic: true,
    });
  }

  private objects(o: {
    ns: string;
    name: string;
    selector: Record<string, string>;
    owner: string;
    serviceAccount: string;
    ports: GatewayPort[];
    classic?: boolean;
  }): Obj[] {
    const { ns, name, selector, ports } = o;
    const annotations = {
      [GENERATED_BY]: CONTROLLER,
      'meshlite.io/gateway': o.owner,
      ...(o.classic ? { [CLASSIC_ANNOTATION]: 'true' } : {}),
    };
    const podLabels = {
      ...selector,
      'istio.io/dataplane-mode': 'none',
      'sidecar.istio.io/inject': 'false',
    };
    return [
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: ns, labels: selector, annotations },
        spec: {
          replicas: 1,
          selector: { matchLabels: selector },
          template: {
            metadata: { labels: podLabels },
            spec: {
              serviceAccountName: o.serviceAccount,
              containers: [
                {
                  name: 'istio-proxy',
                  image: 'meshlite/gateway',
                  command: [this.o.execPath, '$(MESHLITE_DIST)/gateway/main.js'],
                  args: [
                    '--name',
                    name,
                    '--namespace',
                    ns,
                    '--pod-name',
                    '$(POD_NAME)',
                    '--pod-ip',
                    '$(POD_IP)',
                    '--service-account',
                    o.serviceAccount,
                    '--xds-address',
                    this.o.xdsAddress,
                    '--token-file',
                    this.tokenFile(ns, name),
                  ],
                  ports: [...ports.map(({ port }) => ({ containerPort: port })), { containerPort: 15021 }],
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace: ns, labels: selector, annotations },
        spec: {
          type: 'LoadBalancer',
          selector,
          ports: [
            { name: 'status-port', port: 15021, targetPort: 15021 },
            ...ports.map(({ port: p, tls, passthrough }) => ({
              name: passthrough ? `tls-${p}` : tls ? `https-${p}` : o.classic ? `http2-${p}` : `http-${p}`,
              port: p,
              targetPort: p,
              appProtocol: passthrough ? 'tls' : tls ? 'https' : 'http',
            })),
          ],
        },
      },
    ];
  }

  async reconcile(): Promise<boolean> {
    const all = await readObjects(this.o.configDir);
    const wanted = new Set<string>();
    let changed = false;
    for (const { file, obj } of all.filter((x) => isIngress(x.obj))) {
      const meta = rec(obj.metadata);
      const ns = typeof meta.namespace === 'string' ? meta.namespace : 'default';
      const gw = String(meta.name);
      const name = ingressDeployment(gw);
      wanted.add(`${ns}/${gw}`);
      await this.ensureToken(ns, name, name);
      const vip = await this.writeObjects(all, ns, name, this.desired(ns, gw, listenersOf(obj)));
      if (vip.changed) changed = true;
      if (
        all.filter((x) => x.obj === obj).length === 1 &&
        (await this.writeStatus(file, obj, ns, name, vip.ip, routesOf(all), refsOf(all)))
      )
        changed = true;
    }
    const classic = all.filter((x) => selectsClassicIngress(x.obj));
    if (classic.length > 0) {
      wanted.add(CLASSIC_OWNER);
      const { namespace: ns, name, serviceAccount } = CLASSIC_INGRESS;
      await this.ensureToken(ns, name, serviceAccount);
      const ports = classic.flatMap((x) => serverPorts(x.obj));
      if ((await this.writeObjects(all, ns, name, this.classicDesired(ports))).changed) changed = true;
    }
    if (await writeVirtualServiceStatus(this.o.configDir, all)) changed = true;
    for (const { file, obj } of all) {
      const ann = rec(rec(obj.metadata).annotations);
      if (ann[GENERATED_BY] !== CONTROLLER || wanted.has(String(ann['meshlite.io/gateway']))) continue;
      await unlink(join(this.o.configDir, file)).catch(() => undefined);
      const [ns, gw] = String(ann['meshlite.io/gateway']).split('/');
      const name = ann[CLASSIC_ANNOTATION] === 'true' ? gw! : ingressDeployment(gw!);
      await rm(this.tokenFile(ns!, name), { force: true });
      await removeNodeToken(this.o.tokensFile, `gateway/${ns}/${name}`);
      changed = true;
    }
    return changed;
  }

  /** Writes the controller's objects where they changed; the Service address the cluster assigned. */
  private async writeObjects(
    all: Array<{ file: string; obj: Obj }>,
    ns: string,
    name: string,
    objects: Obj[],
  ): Promise<{ changed: boolean; ip?: string }> {
    let changed = false;
    let ip: string | undefined;
    for (const d of objects) {
      const f = fileName(String(d.kind), ns, name);
      const existing = all.find((x) => x.file === f);
      const mine = rec(rec(existing?.obj.metadata).annotations)[GENERATED_BY] === CONTROLLER;
      if (existing && !mine) continue;
      const assigned = rec(existing?.obj.spec).clusterIP;
      if (d.kind === 'Service' && typeof assigned === 'string') {
        d.spec = { ...rec(d.spec), clusterIP: assigned };
        ip = assigned;
      }
      if (existing && isDeepStrictEqual(existing.obj, d)) continue;
      await writeFileAtomic(join(this.o.configDir, f), stringify(d));
      changed = true;
    }
    return { changed, ...(ip ? { ip } : {}) };
  }

  private async ensureToken(ns: string, name: string, serviceAccount: string): Promise<void> {
    const path = this.tokenFile(ns, name);
    if (
      await readFile(path).then(
        () => true,
        () => false,
      )
    )
      return;
    const identity = { trustDomain: 'cluster.local', namespace: ns, serviceAccount };
    const token = await addNodeToken(this.o.tokensFile, { node: `gateway/${ns}/${name}`, identity });
    await writeFile(path, token, { mode: 0o600 });
  }

  private async programmed(ns: string, name: string): Promise<boolean> {
    const log = await readFile(join(this.o.logsDir, `pod-${ns}-${name}-1.log`), 'utf8').catch(() => '');
    return log.includes('gateway configuration applied');
  }

  private async writeStatus(
    file: string,
    obj: Obj,
    ns: string,
    name: string,
    vip: string | undefined,
    routes: Array<HTTPRoute | TLSRoute>,
    refs: ListenerRefs,
  ): Promise<boolean> {
    const ready = vip !== undefined && (await this.programmed(ns, name));
    const old = rec(obj.status);
    const oldConds = Array.isArray(old.conditions) ? old.conditions.map(rec) : [];
    const cond = (type: string, ok: boolean, reason: string, message: string) =>
      condition(oldConds, type, ok, reason, message);
    const status = {
      ...(vip ? { addresses: [{ type: 'IPAddress', value: vip }] } : {}),
      conditions: [
        cond('Accepted', true, 'Accepted', 'Resource accepted'),
        ready
          ? cond(
              'Programmed',
              true,
              'Programmed',
              `Resource programmed, assigned to service(s) ${name}.${ns}.svc.cluster.local`,
            )
          : cond(
              'Programmed',
              false,
              'Pending',
              'waiting for the gateway pod to start and get its configuration',
            ),
      ],
      listeners: listenerStatuses(obj as unknown as Gateway, routes, ready, old.listeners, refs),
    };
    if (isDeepStrictEqual(old, status)) return false;
    await writeFileAtomic(join(this.o.configDir, file), stringify({ ...obj, status }));
    return true;
  }
}

/** The HTTPRoutes and TLSRoutes among the config objects (for the listeners' attachedRoutes). */
function routesOf(all: Array<{ obj: Obj }>): Array<HTTPRoute | TLSRoute> {
  return all
    .map((x) => x.obj)
    .filter(
      (o) =>
        (o.kind === 'HTTPRoute' || o.kind === 'TLSRoute') &&
        String(o.apiVersion ?? '').startsWith('gateway.networking.k8s.io/'),
    )
    .map((o) => o as unknown as HTTPRoute | TLSRoute);
}
