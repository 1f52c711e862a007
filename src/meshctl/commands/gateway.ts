/**
 * `meshctl gateway list|url`: the ingress Gateways (class istio) the local cluster runs, their address
 * (the gateway Service, reachable from the host through the cluster's host routes) and the URL to curl,
 * Istio's `$GATEWAY_URL`.
 */
import { parsers } from '../../common/config.js';
import type { Gateway } from '../../istiod/config/types.js';
import { ConfigDir } from '../config-dir.js';
import { CONFIG_DIR_OPTION, parseCommand } from '../options.js';
import { formatTable } from '../text-table.js';

const USAGE = `Usage: meshctl gateway list|url [NAME] -n NAMESPACE [options]

  list    ingress Gateways (gatewayClassName: istio): address, listener ports, Programmed
  url     the URL of NAME's first HTTP listener, e.g. export GATEWAY_URL=$(meshctl gateway url bookinfo-gateway -n bookinfo)

The local cluster runs each such Gateway as the deployment <NAME>-istio and publishes its Service
address in the Gateway's status; the host reaches it through the cluster's routes (meshctl up).`;

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

/** `http://ADDRESS[:PORT]` for the first HTTP listener, once the Gateway has an address. */
export function gatewayUrl(g: Gateway): string | undefined {
  const addr = statusOf(g).addresses?.[0]?.value;
  const l = g.spec.listeners.find((x) => x.protocol === 'HTTP');
  if (!addr || !l) return undefined;
  return l.port === 80 ? `http://${addr}` : `http://${addr}:${l.port}`;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseCommand(USAGE, SCHEMA, argv);
  if (!a) return 0;
  const [verb, name] = a.rest;
  const { objects } = await new ConfigDir(a.config.configDir).load();
  const gws = [...objects.values()]
    .map((s) => s.object)
    .filter((o): o is Gateway => o.kind === 'Gateway' && (o as Gateway).spec.gatewayClassName === 'istio')
    .filter((g) => a.config.allNamespaces || (g.metadata.namespace ?? 'default') === a.config.namespace);
  if (verb === 'list') {
    if (gws.length === 0) {
      process.stdout.write(
        `No ingress gateways found${a.config.allNamespaces ? '' : ` in namespace ${a.config.namespace}`}.\n`,
      );
      return 0;
    }
    const rows = gws.map((g) => [
      g.metadata.namespace ?? 'default',
      g.metadata.name,
      statusOf(g)
        .addresses?.map((x) => x.value)
        .join(',') ?? '',
      g.spec.listeners.map((l) => `${l.port}/${l.protocol}`).join(','),
      statusOf(g).conditions?.find((c) => c.type === 'Programmed')?.status ?? 'Unknown',
      gatewayUrl(g) ?? '',
    ]);
    process.stdout.write(
      formatTable(['NAMESPACE', 'NAME', 'ADDRESS', 'LISTENERS', 'PROGRAMMED', 'URL'], rows, { gap: 3 }),
    );
    return 0;
  }
  if (verb === 'url') {
    const g = name ? gws.find((x) => x.metadata.name === name) : gws.length === 1 ? gws[0] : undefined;
    if (!g) {
      process.stderr.write(
        `error: ${name ? `no ingress Gateway ${name}` : 'name the Gateway (there is not exactly one)'} in namespace ${a.config.namespace}; meshctl gateway list -A shows them\n`,
      );
      return 1;
    }
    const url = gatewayUrl(g);
    if (!url) {
      process.stderr.write(
        `error: Gateway ${g.metadata.namespace}/${g.metadata.name} has no address yet (or no HTTP listener); is the local cluster running (meshctl status)?\n`,
      );
      return 1;
    }
    process.stdout.write(`${url}\n`);
    return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}
