/**
 * Mesh service names as a Kubernetes pod's resolver sees them. A pod's resolv.conf has the search path
 * `<ns>.svc.<domain> svc.<domain> <domain>`, so the short names people type mean:
 *   echo                  → echo.<ns>.svc.<domain>   (the client's own namespace)
 *   echo.other            → echo.other.svc.<domain>  (namespace `other`)
 *   echo.other.svc        → echo.other.svc.<domain>
 *   echo.other.svc.<domain> and any other name → itself (ServiceEntry hosts such as api.example.com)
 * A name that is not under the cluster domain is also tried as is, last, for ServiceEntry hosts.
 */
import { isIPv4 } from 'node:net';
import type { StateStore } from '../state/store.js';
import type { Service } from '../state/types.js';

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

/** Normalizes a name for lookup: lowercase, no trailing dot. */
export function normalizeName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') ? n.slice(0, -1) : n;
}

/** The service hostnames `name` may mean for a client in `clientNamespace`, most specific first. */
export function meshNameCandidates(
  name: string,
  clientNamespace: string | undefined,
  domain: string = DEFAULT_CLUSTER_DOMAIN,
): string[] {
  const n = normalizeName(name);
  if (n === '' || n.startsWith('.') || n.includes('..')) return [];
  const d = normalizeName(domain);
  if (n === d || n.endsWith(`.${d}`)) return [n];
  const dots = countDots(n);
  const out: string[] = [];
  if (dots === 0) {
    if (clientNamespace) out.push(`${n}.${clientNamespace}.svc.${d}`);
  } else if (dots === 1) {
    out.push(`${n}.svc.${d}`);
  } else if (dots === 2 && n.endsWith('.svc')) {
    out.push(`${n}.${d}`);
  }
  out.push(n);
  return out;
}

function countDots(s: string): number {
  let c = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 0x2e) c++;
  return c;
}

export interface MeshNameAnswer {
  /** The service's VIPs; for a service with none (headless), its endpoints' IPs. */
  ips: string[];
  /** The hostname of the service found. */
  hostname: string;
  /** The service's `<namespace>/<hostname>` key. */
  service: string;
}

/**
 * The addresses of the mesh service `name` means for a client in `clientNamespace` (undefined when the
 * client is not a known workload: then only full names match). Among services with the same hostname
 * (a ServiceEntry host defined in several namespaces), the client's namespace wins. Undefined when no
 * service matches: the name is not a mesh name.
 */
export function resolveMeshName(
  store: StateStore,
  name: string,
  clientNamespace: string | undefined,
  domain: string = DEFAULT_CLUSTER_DOMAIN,
): MeshNameAnswer | undefined {
  for (const candidate of meshNameCandidates(name, clientNamespace, domain)) {
    const services = store.servicesByHostname(candidate);
    if (services.length === 0) continue;
    const svc = (clientNamespace && services.find((s) => s.namespace === clientNamespace)) || services[0]!;
    return { ips: addressesOf(store, svc), hostname: svc.hostname, service: svc.key };
  }
  return undefined;
}

function addressesOf(store: StateStore, svc: Service): string[] {
  const seen = new Set<string>();
  for (const v of svc.vips) seen.add(v.ip);
  if (seen.size === 0) for (const w of store.endpointsOf(svc.key)) for (const ip of w.ips) seen.add(ip);
  // IPv4 first: a SOCKS5 or single-answer caller takes the first.
  return [...seen].sort((a, b) => Number(isIPv4(b)) - Number(isIPv4(a)));
}
