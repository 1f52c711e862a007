/**
 * `meshctl status` of a cluster started with `meshctl up --kubernetes` (pure): its nodes, its pods and
 * how each is in the mesh (ambient and enrolled by the node agent, sidecar, waypoint, gateway), and the
 * waypoints (Gateways of class istio-waypoint: address, Programmed, ready pods, who uses them), as the
 * API server has them.
 */
import { formatTable } from './text-table.js';
import { age } from './get-columns.js';
import { REDIRECTION_ANNOTATION } from '../node-agent/enablement.js';
import { SIDECAR_STATUS } from '../sidecar/injection-policy.js';

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
}
type Cond = { type: string; status: string };

export interface KubeStatusInput {
  nodes: Array<{
    metadata: Meta;
    status?: { addresses?: Array<{ type: string; address: string }>; conditions?: Cond[] };
  }>;
  namespaces: Array<{ metadata: Meta }>;
  pods: Array<{
    metadata: Meta;
    spec: { nodeName?: string; containers: Array<{ name: string }> };
    status?: {
      phase?: string;
      podIP?: string;
      conditions?: Cond[];
      containerStatuses?: Array<{ ready?: boolean; restartCount?: number }>;
    };
  }>;
  gateways: Array<{
    metadata: Meta;
    spec?: { gatewayClassName?: string };
    status?: { addresses?: Array<{ value?: string }>; conditions?: Cond[] };
  }>;
  services: Array<{ metadata: Meta }>;
}

const cond = (cs: Cond[] | undefined, type: string): string =>
  cs?.find((c) => c.type === type)?.status ?? 'Unknown';

const dataplane = (l: Record<string, string> | undefined): string | undefined =>
  l?.['istio.io/dataplane-mode'] ?? l?.['dataplane-mode'];

/** How a pod is in the mesh: sidecar, waypoint, gateway, ambient (enrolled or not yet), or '-'. */
export function podMesh(
  pod: KubeStatusInput['pods'][number],
  nsLabels: Record<string, string> | undefined,
): string {
  const l = pod.metadata.labels ?? {};
  const a = pod.metadata.annotations ?? {};
  if (a[SIDECAR_STATUS]) return 'sidecar';
  const managed = l['gateway.istio.io/managed'];
  if (managed === 'istio.io-mesh-controller') return 'waypoint';
  if (managed === 'istio.io-gateway-controller') return 'gateway';
  const own = dataplane(l);
  if (own !== 'none' && (own === 'ambient' || dataplane(nsLabels) === 'ambient'))
    return a[REDIRECTION_ANNOTATION] === 'enabled' ? 'ambient' : 'ambient (not enrolled)';
  return '-';
}

export function kubeStatus(
  head: { name: string; server: string; kubeconfig: string },
  s: KubeStatusInput,
  now = Date.now(),
): string {
  const nsLabels = new Map(s.namespaces.map((n) => [n.metadata.name, n.metadata.labels ?? {}]));
  const out: string[] = [];
  out.push(
    `cluster ${head.name} (Kubernetes, API server ${head.server})\nexport KUBECONFIG=${head.kubeconfig}\n`,
  );
  out.push(
    formatTable(
      ['NODE', 'IP', 'READY', 'PODS'],
      s.nodes.map((n) => [
        n.metadata.name,
        n.status?.addresses?.find((x) => x.type === 'InternalIP')?.address ?? '',
        cond(n.status?.conditions, 'Ready'),
        String(s.pods.filter((p) => p.spec.nodeName === n.metadata.name).length),
      ]),
      { gap: 3 },
    ),
  );
  const pods = [...s.pods].sort((a, b) =>
    `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
  );
  out.push(
    formatTable(
      ['POD', 'IP', 'NODE', 'STATUS', 'READY', 'MESH', 'RESTARTS', 'AGE'],
      pods.map((p) => {
        const cs = p.status?.containerStatuses ?? [];
        return [
          `${p.metadata.namespace}/${p.metadata.name}`,
          p.status?.podIP ?? '',
          p.spec.nodeName ?? '<pending>',
          p.status?.phase ?? 'Pending',
          `${cs.filter((c) => c.ready).length}/${p.spec.containers.length}`,
          podMesh(p, nsLabels.get(p.metadata.namespace ?? '')),
          String(cs.reduce((n, c) => n + (c.restartCount ?? 0), 0)),
          age(p.metadata.creationTimestamp, now),
        ];
      }),
      { gap: 3 },
    ),
  );
  const waypoints = s.gateways.filter((g) => g.spec?.gatewayClassName === 'istio-waypoint');
  if (waypoints.length === 0) out.push('no waypoints (Gateways of class istio-waypoint)\n');
  else {
    const users = (ns: string, gw: string): string => {
      const byNs = nsLabels.get(ns)?.['istio.io/use-waypoint'] === gw ? [`namespace ${ns}`] : [];
      const bySvc = s.services
        .filter((x) => x.metadata.namespace === ns && x.metadata.labels?.['istio.io/use-waypoint'] === gw)
        .map((x) => `service ${x.metadata.name}`);
      return [...byNs, ...bySvc].join(', ') || '-';
    };
    out.push(
      formatTable(
        ['WAYPOINT', 'ADDRESS', 'PROGRAMMED', 'PODS READY', 'USED BY'],
        waypoints.map((g) => {
          const ns = g.metadata.namespace ?? '';
          const mine = s.pods.filter(
            (p) =>
              p.metadata.namespace === ns &&
              p.metadata.labels?.['gateway.networking.k8s.io/gateway-name'] === g.metadata.name,
          );
          return [
            `${ns}/${g.metadata.name}`,
            g.status?.addresses?.[0]?.value ?? '',
            cond(g.status?.conditions, 'Programmed'),
            `${mine.filter((p) => cond(p.status?.conditions, 'Ready') === 'True').length}/${mine.length}`,
            users(ns, g.metadata.name),
          ];
        }),
        { gap: 3 },
      ),
    );
  }
  return out.join('\n');
}
