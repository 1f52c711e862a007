/**
 * Istio's classic ingress: `networking.istio.io` Gateways select gateway pods by label (`selector:
 * {istio: ingressgateway}`, from any namespace, as with Istio's default PILOT_SCOPE_GATEWAY_TO_NAMESPACE
 * =false); each Deployment whose pod template a Gateway selects gets one configuration
 * (`<ns>/<deployment>`), a port per HTTP server port and per HTTPS one that terminates TLS (`tls.mode:
 * SIMPLE`, the certificate from the Secret `credentialName` in the gateway's namespace).
 * VirtualServices bind through `gateways`
 * (`NAME` in the VirtualService's namespace, or `NAMESPACE/NAME`), and a match entry's own `gateways`
 * narrows it to the Gateways it names; several VirtualServices for one port are merged in
 * creation order, specific hosts before `*`. A server's `hosts` (`NS/HOST`, `./HOST`, `*`/`HOST`)
 * limit which VirtualServices (by namespace) and hosts it serves; the hosts in common become authority
 * matches. No match: 404 (NR). Backends as for Gateway API ingress (gateway-configs.ts).
 */
import type { ConfigStore } from '../config/store.js';
import type { Deployment, IstioGateway, IstioGatewayServer, VirtualService } from '../config/types.js';
import type { L7Config, PortTls, RouteRule, ServicePort } from '../../l7/model.js';
import { CA_SUFFIX, clientCaFor, tlsPairOf } from '../config/tls-secret.js';
import { coversHost } from '../../common/hostname.js';
import { convertVirtualService, gatewayKey } from './convert-vs.js';
import { credentialName, ingressConfig, intersect, withHosts } from './gateway-configs.js';
import { MeshView, type MeshViewOptions } from './mesh-view.js';
import { SecurityIndex } from './security-configs.js';
import { clusterCollector } from './waypoint-configs.js';

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC']);
/** A server whose TLS goes through to the backend undecrypted (`tls.mode: PASSTHROUGH`). */
function isPassthrough(server: IstioGatewayServer): boolean {
  const protocol = server.port.protocol.toUpperCase();
  const mode = (server.tls as { mode?: string } | undefined)?.mode;
  return (protocol === 'TLS' || protocol === 'HTTPS') && mode === 'PASSTHROUGH';
}

/**
 * A VirtualService's `tls` routes on a passthrough server: each match for this server's port and
 * Gateway keeps the `sniHosts` the server's hosts admit for the VirtualService's namespace; the
 * connection goes to a destination by weight (its port, else the server's).
 */
function tlsRoutes(
  vs: VirtualService,
  server: IstioGatewayServer,
  gw: IstioGateway,
  view: MeshView,
  want: (w: { fqdn: string; port: number; subset?: string }) => string,
): NonNullable<ServicePort['sni']> {
  const vsNs = nsOf(vs);
  const gwKey = `${nsOf(gw)}/${gw.metadata.name}`;
  const admitted = serverHostsFor(server, nsOf(gw), vsNs);
  const out: NonNullable<ServicePort['sni']> = [];
  (vs.spec.tls ?? []).forEach((rule, i) => {
    if (rule.route.length === 0) return;
    const hosts = rule.match
      .filter(
        (m) =>
          (m.port === undefined || m.port === server.port.number) &&
          (m.gateways === undefined || m.gateways.some((g) => gatewayKey(g, vsNs) === gwKey)),
      )
      .flatMap((m) => m.sniHosts)
      .filter((h) => admitted.some((a) => coversHost(a, h) || coversHost(h, a)));
    if (hosts.length === 0) return;
    const backends = rule.route.map((r) => ({
      cluster: want({
        fqdn: view.resolveHost(r.destination.host, vsNs),
        port: r.destination.port?.number ?? server.port.number,
        ...(r.destination.subset ? { subset: r.destination.subset } : {}),
      }),
      weight: r.weight ?? (rule.route.length === 1 ? 100 : 0),
    }));
    out.push({
      name: `VirtualService/${vsNs}/${vs.metadata.name}#tls${i}`,
      hosts,
      cluster: backends[0]!.cluster,
      ...(backends.length > 1 ? { backends } : {}),
    });
  });
  return out;
}

/** The TLS modes of an HTTPS server that terminate TLS at the gateway. */
const TERMINATING = new Set(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']);

/**
 * How a server is served, or undefined when it is not: an HTTP server (with `tls.httpsRedirect`: a
 * redirect to https), or an HTTPS server with `tls.mode` SIMPLE, MUTUAL or OPTIONAL_MUTUAL whose
 * `credentialName` Secret (in the gateway deployment's namespace, as Istio reads it) holds a usable
 * certificate — and, for the mutual modes, a CA bundle for client certificates (`<name>-cacert`, or
 * `ca.crt` beside the certificate).
 */
function serverMode(
  server: IstioGatewayServer,
  gwPodNs: string,
  view: MeshView,
):
  | {
      credential?: string;
      redirect?: boolean;
      clientCerts?: 'required' | 'optional';
      caCredential?: string;
    }
  | undefined {
  const protocol = server.port.protocol.toUpperCase();
  const tls = server.tls as { mode?: string; credentialName?: string; httpsRedirect?: boolean } | undefined;
  if (HTTP_PROTOCOLS.has(protocol)) {
    if (!tls) return {};
    return tls.httpsRedirect === true && tls.mode === undefined ? { redirect: true } : undefined;
  }
  const mode = tls?.mode;
  if (protocol !== 'HTTPS' || !mode || !TERMINATING.has(mode) || !tls.credentialName) return undefined;
  const secret = view.store.get('Secret', gwPodNs, tls.credentialName);
  if (!secret || tlsPairOf(secret).error) return undefined;
  const credential = credentialName(gwPodNs, tls.credentialName);
  if (mode === 'SIMPLE') return { credential };
  const lookup = (ns: string, name: string) => view.store.get('Secret', ns, name);
  if (!clientCaFor(lookup, gwPodNs, tls.credentialName).pem) return undefined;
  return {
    credential,
    clientCerts: mode === 'MUTUAL' ? 'required' : 'optional',
    caCredential: `${credential}${CA_SUFFIX}`,
  };
}

const nsOf = (o: { metadata: { namespace?: string } }): string => o.metadata.namespace ?? 'default';

/** Whether a Gateway's selector picks the pods of a Deployment (an empty selector picks none here). */
export function selectsDeployment(gw: IstioGateway, d: Deployment): boolean {
  const sel = gw.spec.selector ?? {};
  const labels = d.spec.template.metadata?.labels ?? {};
  const keys = Object.keys(sel);
  return keys.length > 0 && keys.every((k) => labels[k] === sel[k]);
}

/** Whether a VirtualService's `gateways` names this Gateway. */
export function bindsTo(vs: VirtualService, gw: IstioGateway): boolean {
  const vsNs = nsOf(vs);
  const key = `${nsOf(gw)}/${gw.metadata.name}`;
  return (vs.spec.gateways ?? []).some((ref) => gatewayKey(ref, vsNs) === key);
}

/** The `gateways` entries of a VirtualService that name no Gateway (`mesh` aside), as written. */
export function missingGateways(vs: VirtualService, gateways: IstioGateway[]): string[] {
  const vsNs = nsOf(vs);
  const known = new Set(gateways.map((g) => `${nsOf(g)}/${g.metadata.name}`));
  return (vs.spec.gateways ?? []).filter((ref) => ref !== 'mesh' && !known.has(gatewayKey(ref, vsNs)));
}

/** A server's hosts a VirtualService of namespace `vsNs` may serve (`NS/HOST`, `./HOST`, `*`/`HOST`). */
function serverHostsFor(server: IstioGatewayServer, gwNs: string, vsNs: string): string[] {
  const out: string[] = [];
  for (const h of server.hosts) {
    const slash = h.indexOf('/');
    const ns = slash >= 0 ? h.slice(0, slash) : '*';
    const host = slash >= 0 ? h.slice(slash + 1) : h;
    if (ns === '*' || ns === vsNs || (ns === '.' && vsNs === gwNs)) out.push(host);
  }
  return out;
}

/** The hosts a VirtualService serves on a server: [] for any; undefined when they do not meet. */
function hostsOn(
  vs: VirtualService,
  server: IstioGatewayServer,
  gwNs: string,
  view: MeshView,
): string[] | undefined {
  const vsNs = nsOf(vs);
  const vsHosts = (vs.spec.hosts ?? []).map((h) => (h === '*' ? h : view.resolveHost(h, vsNs)));
  const out = new Set<string>();
  for (const sh of serverHostsFor(server, gwNs, vsNs)) {
    for (const vh of vsHosts) {
      if (sh === '*' && vh === '*') return [];
      const got = intersect(sh === '*' ? undefined : sh, vh === '*' ? [] : [vh]);
      for (const h of got ?? []) out.add(h);
    }
  }
  return out.size ? [...out] : undefined;
}

export function buildClassicGatewayConfigs(store: ConfigStore, opts: MeshViewOptions): Map<string, L7Config> {
  const out = new Map<string, L7Config>();
  const gateways = store.list('IstioGateway');
  if (gateways.length === 0) return out;
  const view = new MeshView(store, opts);
  const vss = [...store.list('VirtualService')].sort(
    (a, b) =>
      (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') ||
      nsOf(a).localeCompare(nsOf(b)) ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
  const security = new SecurityIndex(store, opts.rootNamespace ?? 'istio-system');
  for (const d of store.list('Deployment')) {
    const mine = gateways.filter((g) => selectsDeployment(g, d));
    if (mine.length === 0) continue;
    const key = `${nsOf(d)}/${d.metadata.name}`;
    const c = clusterCollector(view);
    const byPort = new Map<
      number,
      { specific: RouteRule[]; any: RouteRule[]; tls?: PortTls; sni?: NonNullable<ServicePort['sni']> }
    >();
    for (const gw of mine) {
      const bound = vss.filter((v) => bindsTo(v, gw));
      const where = `${nsOf(gw)}/${gw.metadata.name}`;
      for (const server of gw.spec.servers ?? []) {
        if (isPassthrough(server)) {
          const rules = byPort.get(server.port.number) ?? { specific: [], any: [] };
          byPort.set(server.port.number, rules);
          rules.sni ??= [];
          for (const vs of bound) rules.sni.push(...tlsRoutes(vs, server, gw, view, c.want));
          continue;
        }
        const serve = serverMode(server, nsOf(d), view);
        if (!serve) continue;
        const port = server.port.number;
        const rules = byPort.get(port) ?? { specific: [], any: [] };
        byPort.set(port, rules);
        const hostParts = server.hosts.map((h) => h.slice(h.indexOf('/') + 1));
        const named = hostParts.filter((h) => h !== '*');
        if (serve.credential) {
          rules.tls ??= { certificates: [] };
          rules.tls.certificates.push({
            hostnames: named,
            credential: serve.credential,
            ...(serve.clientCerts
              ? { clientCerts: serve.clientCerts, caCredential: serve.caCredential }
              : {}),
          });
        }
        if (serve.redirect) {
          // tls.httpsRedirect: every request to this server's hosts is sent to https (301).
          const redirect: RouteRule = {
            name: `Gateway/${where}#https-redirect`,
            matches: [],
            action: { kind: 'redirect', status: 301, scheme: 'https' },
          };
          const hosts = hostParts.includes('*') ? [] : named;
          (hosts.length ? rules.specific : rules.any).push(...withHosts([redirect], hosts));
          continue;
        }
        for (const vs of bound) {
          const hosts = hostsOn(vs, server, nsOf(gw), view);
          if (hosts === undefined) continue;
          const converted = withHosts(convertVirtualService(vs, view, port, c.want, where), hosts);
          (hosts.length ? rules.specific : rules.any).push(...converted);
        }
      }
    }
    const ports: ServicePort[] = [...byPort]
      .sort((a, b) => a[0] - b[0])
      .map(([port, r]) => ({
        port,
        targetPort: port,
        protocol: r.sni ? ('tls' as const) : ('http' as const),
        routes: [...r.specific, ...r.any],
        defaultCluster: '',
        ...(r.tls ? { tls: r.tls } : {}),
        ...(r.sni ? { sni: r.sni } : {}),
      }));
    const podLike = {
      metadata: { namespace: nsOf(d), name: d.metadata.name, labels: d.spec.template.metadata?.labels },
    };
    out.set(key, ingressConfig(key, ports, c.built(), view, security.forPod(podLike)));
  }
  return out;
}
