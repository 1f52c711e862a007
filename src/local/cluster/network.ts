/**
 * The cluster's network: the fabric bridge (host + nodes), node namespaces with routes to each other's
 * pod ranges, pod namespaces with a veth to their node, the node rules (DNS to ztunnel, Service VIPs
 * for pods outside the mesh: kube-proxy's role), and the teardown. Only links the cluster creates are
 * touched on the host: one veth end with 10.244.255.1/24; the host's forwarding stays as it was.
 */
import { mkdir, rm, writeFile, readdir } from 'node:fs/promises';
import { MeshError } from '../../common/errors.js';
import {
  addRoute,
  applyNftRuleset,
  cleanupLeftovers,
  createNetns,
  createVethPair,
  runCommand,
  setNetnsSysctl,
} from '../netns/index.js';
import {
  HOST_IP,
  NODE_NET,
  POD_RANGE,
  SERVICE_RANGE,
  fabricNetns,
  hostLink,
  type NodeInfo,
  type PodInfo,
} from './topology.js';
import type { ServiceIn } from './manifests.js';

/**
 * Refuses to start a second cluster beside a running one: the fabric's host address (10.244.255.1) and
 * the host routes into the cluster exist once on a machine, so the second would take the first's routes
 * and neither would work.
 */
/** The host link that holds the cluster fabric's host address (10.244.255.1), if any cluster is up. */
export async function fabricOwner(): Promise<string | undefined> {
  const { stdout } = await runCommand('ip', ['-4', '-o', 'addr', 'show']);
  for (const line of stdout.split('\n')) {
    const m = /^\d+:\s+(\S+?)(?:@\S+)?\s+inet\s+(\S+)\//.exec(line);
    if (m && m[2] === HOST_IP) return m[1];
  }
  return undefined;
}

/**
 * Refuses to start a second cluster beside a running one: the fabric's host address (10.244.255.1) and
 * the host routes into the cluster exist once on a machine, so the second would take the first's routes
 * and neither would work.
 */
export async function assertFabricFree(prefix: string): Promise<void> {
  const owner = await fabricOwner();
  if (!owner || owner === hostLink(prefix)) return;
  const other = owner.replace(/-h$/, '');
  throw new MeshError(
    'CLUSTER_ERR_FABRIC_IN_USE',
    `another local cluster is running: host link ${owner} already holds the cluster fabric address ${HOST_IP}; ` +
      `stop it first (meshctl down --name ${other}, with its --state-dir if it has its own)`,
  );
}

export async function createFabric(prefix: string): Promise<void> {
  await assertFabricFree(prefix);
  const fab = fabricNetns(prefix);
  await createNetns(fab);
  await runCommand('ip', ['-n', fab, 'link', 'add', 'br0', 'type', 'bridge']);
  await runCommand('ip', ['-n', fab, 'link', 'set', 'br0', 'up']);
  await createVethPair(
    { name: hostLink(prefix), addresses: [`${HOST_IP}/24`] },
    { name: 'host', netns: fab },
  );
  await runCommand('ip', ['-n', fab, 'link', 'set', 'host', 'master', 'br0']);
}

export async function createNode(prefix: string, node: NodeInfo, all: NodeInfo[]): Promise<void> {
  const fab = fabricNetns(prefix);
  await createNetns(node.netns);
  await createVethPair(
    { name: 'eth0', netns: node.netns, addresses: [`${node.ip}/24`] },
    { name: `n${node.index}`, netns: fab },
  );
  await runCommand('ip', ['-n', fab, 'link', 'set', `n${node.index}`, 'master', 'br0']);
  await setNetnsSysctl(node.netns, 'net.ipv4.ip_forward', 1);
  for (const other of all) {
    if (other.index === node.index) continue;
    await addRoute(node.netns, { to: other.podCidr, via: other.ip });
  }
}

export async function createPod(pod: PodInfo, node: NodeInfo): Promise<void> {
  await createNetns(pod.netns);
  await createVethPair(
    { name: 'eth0', netns: pod.netns, addresses: [`${pod.ip}/32`] },
    { name: pod.hostLink, netns: node.netns, addresses: [`${node.podGateway}/32`] },
  );
  await runCommand('ip', ['-n', pod.netns, 'route', 'add', node.podGateway, 'dev', 'eth0', 'scope', 'link']);
  await addRoute(pod.netns, { to: 'default', via: node.podGateway });
  await runCommand('ip', ['-n', node.netns, 'route', 'add', `${pod.ip}/32`, 'dev', pod.hostLink]);
  // `ip netns exec` bind-mounts /etc/netns/<name>/resolv.conf over /etc/resolv.conf.
  await mkdir(`/etc/netns/${pod.netns}`, { recursive: true });
  await writeFile(
    `/etc/netns/${pod.netns}/resolv.conf`,
    `nameserver ${node.ip}\nsearch ${pod.namespace}.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n`,
  );
}

export const NODE_TABLE = 'meshlite_node';

export interface NodeRuleOptions {
  /** Where DNS to the node IP goes (default the node's ztunnel DNS: node IP, dnsPort). */
  dns?: { ip: string; port: number };
  /** Masquerade the host's connections to the node's pods to the node's pod-side address. */
  masqueradeHostToPods?: boolean;
}

/**
 * The node's rules: DNS on the node IP goes to ztunnel's DNS (15053); Service VIPs go to their
 * endpoints (random choice), for pods outside the mesh (mesh pods' traffic is captured before).
 */
export function nodeRuleset(
  node: NodeInfo,
  services: ServiceIn[],
  endpoints: (s: ServiceIn) => string[],
  dnsPort: number,
  opts: NodeRuleOptions = {},
): string {
  const dns = opts.dns ?? { ip: node.ip, port: dnsPort };
  // Kubernetes mode: the kubelet role probes pods from the host; as a node's kubelet, from the node's
  // side of the pod link (10.244.i.1: the address in-pod capture lets through).
  const probes = opts.masqueradeHostToPods
    ? `    ip saddr ${HOST_IP} ip daddr ${node.podCidr} masquerade\n`
    : '';
  const lines: string[] = [];
  for (const s of services) {
    const eps = endpoints(s);
    for (const p of s.ports) {
      if (eps.length === 0) lines.push(`    ip daddr ${s.clusterIP} tcp dport ${p.port} reject`);
      else if (eps.length === 1)
        lines.push(`    ip daddr ${s.clusterIP} tcp dport ${p.port} dnat to ${eps[0]}:${p.targetPort}`);
      else {
        const m = eps.map((e, i) => `${i} : ${e} . ${p.targetPort}`).join(', ');
        lines.push(
          `    ip daddr ${s.clusterIP} tcp dport ${p.port} dnat ip to numgen random mod ${eps.length} map { ${m} }`,
        );
      }
    }
  }
  return `table ip ${NODE_TABLE}
delete table ip ${NODE_TABLE}
table ip ${NODE_TABLE} {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr ${node.ip} udp dport 53 dnat to ${dns.ip}:${dns.port}
    ip daddr ${node.ip} tcp dport 53 dnat to ${dns.ip}:${dns.port}
${lines.join('\n')}
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    # The host reaching a Service VIP: its endpoint may be on another node, whose reply must come back
    # through this node to be un-NATed (kube-proxy masquerades traffic from outside the pod network).
${probes}    ip saddr ${HOST_IP} ct status dnat masquerade
  }
}
`;
}

export async function applyNodeRules(node: NodeInfo, ruleset: string): Promise<void> {
  await applyNftRuleset(node.netns, ruleset);
}

/**
 * The host's routes into the cluster, as kind and minikube give the host: each node's pod range via
 * that node, the Service range via the nodes (their kube-proxy rules DNAT it), and `unreachable` for
 * the rest of the pod range, so no cluster address ever takes the host's default route out of the
 * machine. All tagged with one route protocol number, so removal touches nothing else.
 */
export const HOST_ROUTE_PROTO = '243';

export function hostRouteArgs(nodes: NodeInfo[]): string[][] {
  const r = (head: string[], tail: string[] = []): string[] => [
    'route',
    'replace',
    ...head,
    'proto',
    HOST_ROUTE_PROTO,
    ...tail,
  ];
  return [
    r(['unreachable', POD_RANGE]),
    r(['unreachable', SERVICE_RANGE]),
    ...nodes.map((n) => r([n.podCidr, 'via', n.ip])),
    ...(nodes.length === 0
      ? []
      : nodes.length === 1
        ? [r([SERVICE_RANGE, 'via', nodes[0]!.ip])]
        : [
            r(
              [SERVICE_RANGE],
              nodes.flatMap((n) => ['nexthop', 'via', n.ip]),
            ),
          ]),
  ];
}

/** The catch-alls alone (before any namespace exists), then the routes via the nodes. */
export async function addHostRoutes(nodes: NodeInfo[]): Promise<void> {
  for (const args of hostRouteArgs(nodes)) await runCommand('ip', args);
}

export async function removeHostRoutes(prefix: string): Promise<void> {
  // The routes lead into whichever cluster holds the fabric: not this one's to remove if another does.
  const owner = await fabricOwner().catch(() => undefined);
  if (owner && owner !== hostLink(prefix)) return;
  await runCommand('ip', ['route', 'flush', 'proto', HOST_ROUTE_PROTO]).catch(() => undefined);
}

/** Removes everything named with the prefix: namespaces (pods, nodes, fabric), host links, /etc/netns entries. */
export async function teardownNetwork(prefix: string): Promise<string[]> {
  const { errors } = await cleanupLeftovers(`${prefix}-`);
  const entries = await readdir('/etc/netns').catch(() => [] as string[]);
  for (const e of entries)
    if (e.startsWith(`${prefix}-`)) await rm(`/etc/netns/${e}`, { recursive: true, force: true });
  return errors;
}

export { NODE_NET, POD_RANGE, SERVICE_RANGE };
