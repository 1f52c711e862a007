/**
 * `meshctl gateway list|url`: the ingress Gateways the local cluster runs — Gateway API (class istio)
 * and Istio's classic networking.istio.io ones — their address (the gateway Service, reachable from
 * the host through the cluster's host routes) and the URL to curl, Istio's `$GATEWAY_URL`.
 */
import { parsers } from '../../common/config.js';
import { kindIdOf } from '../../istiod/config/kinds.js';
import type { Gateway, IstioGateway, Service } from '../../istiod/config/types.js';
import { ConfigDir } from '../config-dir.js';
import { CONFIG_DIR_OPTION, parseCommand } from '../options.js';
import { formatTable } from '../text-table.js';

const USAGE = `Usage: meshctl gateway list|url [NAME] -n NAMESPACE [options]

  list    ingress Gateways: address, listener (server) ports, Programmed, URL
  url     the URL of NAME's first HTTP listener, e.g. export GATEWAY_URL=$(meshctl gateway url bookinfo-gateway -n bookinfo)

Gateway API Gateways (gatewayClassName: istio) run as the deployment <NAME>-istio, with the Service
address in the Gateway's status. Classic networking.istio.io Gateways (selector istio: ingressgateway)
are served by istio-system/istio-ingressgateway, which the local cluster deploys while such a Gateway
exists; their URL is that Service's. Where both kinds use NAME, url picks the Gateway API one. The host
reaches the addresses through the cluster's routes (meshctl up).`;

const SCHEMA = {
  configDir: CONFIG_DIR_OPTION,
  namespace: { flag: 'namespace', doc: 'namespace (-n)', default: 'default', parse: parsers.string },
  allNamespaces: {
    flag: 'all-namespaces',
    doc: 'every namespace (-A)',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
};

interface GatewayStatus {
  addresses?: Array<{ value: string }>;
  conditions?: Array<{ type: string; status: string }>;
}

const statusOf = (g: Gateway): GatewayStatus => (g.status ?? {}) as GatewayStatus;

/** `http://ADDRESS[:PORT]`, or `https://` for a TLS port (the default port left out). */
const urlOf = (addr: string, port: number, tls = false): string => {
  const scheme = tls ? 'https' : 'http';
  return port === (tls ? 443 : 80) ? `${scheme}://${addr}` : `${scheme}://${addr}:${port}`;
};

/**
 * The URL of the first HTTP listener (or, when there is none, the first HTTPS one), once the Gateway
 * has an address.
 */
export function gatewayUrl(g: Gateway): string | undefined {
  const addr = statusOf(g).addresses?.[0]?.value;
  const l =
    g.spec.listeners.find((x) => x.protocol === 'HTTP') ??
    g.spec.listeners.find((x) => x.protocol === 'HTTPS');
  if (!addr || !l) return undefined;
  return urlOf(addr, l.port, l.protocol === 'HTTPS');
}

/** One ingress Gateway as the list shows it, of either kind. */
export interface IngressRow {
  namespace: string;
  name: string;
  address: string;
  listeners: string;
  programmed: string;
  url: string | undefined;
}

function apiRow(g: Gateway): IngressRow {
  return {
    namespace: g.metadata.namespace ?? 'default',
    name: g.metadata.name,
    address:
      statusOf(g)
        .addresses?.map((x) => x.value)
        .join(',') ?? '',
    listeners: g.spec.listeners.map((l) => `${l.port}/${l.protocol}`).join(','),
    programmed: statusOf(g).conditions?.find((c) => c.type === 'Programmed')?.status ?? 'Unknown',
    url: gatewayUrl(g),
  };
}

/**
 * A classic (networking.istio.io) Gateway: its address is that of the Service in front of the pods its
 * selector picks (`istio-system/istio-ingressgateway` for `istio: ingressgateway`), its URL that
 * Service's port of the first HTTP server. Programmed once such a Service has an address.
 */
export function classicRow(g: IstioGateway, services: Service[]): IngressRow {
  const sel = g.spec.selector ?? {};
  const keys = Object.keys(sel);
  const svc = services.find((s) => {
    const ss = s.spec?.selector ?? {};
    return keys.length > 0 && keys.every((k) => ss[k] === sel[k]) && Boolean(s.spec?.clusterIP);
  });
  const http = (g.spec.servers ?? []).find(
    (x) => ['HTTP', 'HTTP2', 'GRPC'].includes(x.port.protocol.toUpperCase()) && !x.tls,
  );
  const addr = svc?.spec?.clusterIP;
  const port = http ? svc?.spec?.ports?.find((p) => p.port === http.port.number) : undefined;
  return {
    namespace: g.metadata.namespace ?? 'default',
    name: g.metadata.name,
    address: addr ?? '',
    listeners: (g.spec.servers ?? []).map((x) => `${x.port.number}/${x.port.protocol}`).join(','),
    programmed: addr && port ? 'True' : 'Unknown',
    url: addr && port ? urlOf(addr, port.port) : undefined,
  };
}

export async function run(argv: string[]): Promise<number> {
  const a = parseCommand(USAGE, SCHEMA, argv);
  if (!a) return 0;
  const [verb, name] = a.rest;
  const { objects } = await new ConfigDir(a.config.configDir).load();
  const all = [...objects.values()].map((s) => s.object);
  const services = all.filter((o): o is Service => kindIdOf(o) === 'Service');
  const inNs = (o: { metadata: { namespace?: string } }): boolean =>
    a.config.allNamespaces || (o.metadata.namespace ?? 'default') === a.config.namespace;
  // Gateway API ones first: a bare name both kinds use is the Gateway API one, as `meshctl get gateway`.
  const gws: IngressRow[] = [
    ...all
      .filter(
        (o): o is Gateway => kindIdOf(o) === 'Gateway' && (o as Gateway).spec.gatewayClassName === 'istio',
      )
      .filter(inNs)
      .map(apiRow),
    ...all
      .filter((o): o is IstioGateway => kindIdOf(o) === 'IstioGateway')
      .filter(inNs)
      .map((g) => classicRow(g, services)),
  ];
  if (verb === 'list') {
    if (gws.length === 0) {
      process.stdout.write(
        `No ingress gateways found${a.config.allNamespaces ? '' : ` in namespace ${a.config.namespace}`}.\n`,
      );
      return 0;
    }
    const rows = gws.map((g) => [g.namespace, g.name, g.address, g.listeners, g.programmed, g.url ?? '']);
    process.stdout.write(
      formatTable(['NAMESPACE', 'NAME', 'ADDRESS', 'LISTENERS', 'PROGRAMMED', 'URL'], rows, { gap: 3 }),
    );
    return 0;
  }
  if (verb === 'url') {
    const g = name ? gws.find((x) => x.name === name) : gws.length === 1 ? gws[0] : undefined;
    if (!g) {
      process.stderr.write(
        `error: ${name ? `no ingress Gateway ${name}` : 'name the Gateway (there is not exactly one)'} in namespace ${a.config.namespace}; meshctl gateway list -A shows them\n`,
      );
      return 1;
    }
    if (!g.url) {
      process.stderr.write(
        `error: Gateway ${g.namespace}/${g.name} has no address yet (or no HTTP listener); is the local cluster running (meshctl status)?\n`,
      );
      return 1;
    }
    process.stdout.write(`${g.url}\n`);
    return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}
