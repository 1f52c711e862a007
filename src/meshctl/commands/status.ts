/**
 * `meshctl status`: the local cluster's istiod, nodes and their ztunnels (with restart counts), pods
 * (IP, node, running, ambient, restarts, age) and services.
 */
import { parseCommand } from '../options.js';
import { isAlive, readClusterFile } from '../../local/cluster/state.js';
import { readObjects } from '../../local/cluster/manifests.js';
import { formatTable } from '../text-table.js';
import { age } from '../get-columns.js';
import { CLUSTER_OPTIONS } from './up.js';
import { kubeStatus, type KubeStatusInput } from '../kube-status.js';
import { loadKubeConfig } from '../../istiod/config/kube-client.js';
import { kubeRequest } from '../../kube/kube-rest.js';

const USAGE = `Usage: meshctl status [--state-dir DIR]

Shows the running local cluster: istiod and each node's ztunnel (running or DOWN, restarts: the cluster
restarts them when they exit, with backoff), pods (IP, node, running, ambient, sidecar, restarts, age) and
services. A cluster of \`meshctl up --kubernetes\`: from its API server, the nodes (Ready), the pods and
how each is in the mesh (ambient and enrolled by the node agent, sidecar, waypoint, gateway), and the
waypoints (address, Programmed, ready pods, the namespaces and services that use them).`;

type KubeFile = { kubernetes?: { kubeconfig: string; server: string } };

/** The Kubernetes-driven cluster's status, read from its API server. */
async function kubernetesStatus(name: string, k: { kubeconfig: string; server: string }): Promise<number> {
  const kc = loadKubeConfig(k.kubeconfig);
  const list = async <T>(...paths: string[]): Promise<T[]> => {
    for (const path of paths) {
      const r = await kubeRequest<{ items?: T[] }>(kc, 'GET', path, undefined, { allow404: true });
      if (r) return r.items ?? [];
    }
    return []; // the kind is not served (no Gateway API CRDs)
  };
  try {
    const input: KubeStatusInput = {
      nodes: await list('/api/v1/nodes'),
      namespaces: await list('/api/v1/namespaces'),
      pods: await list('/api/v1/pods'),
      services: await list('/api/v1/services'),
      gateways: await list(
        '/apis/gateway.networking.k8s.io/v1/gateways',
        '/apis/gateway.networking.k8s.io/v1beta1/gateways',
      ),
    };
    process.stdout.write(kubeStatus({ name, ...k }, input));
    return 0;
  } catch (err) {
    process.stdout.write(
      `cluster ${name}: its API server ${k.server} does not answer (${(err as Error).message}); is its meshctl up still running?\n`,
    );
    return 1;
  }
}

const state = (pid?: number): string => (isAlive(pid) ? 'running' : 'DOWN');

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, CLUSTER_OPTIONS, argv);
  if (!args) return 0;
  const f = await readClusterFile(args.config.stateDir);
  if (!f || !isAlive(f.pid)) {
    process.stdout.write(`no cluster running in ${args.config.stateDir} (meshctl up starts one)\n`);
    return 1;
  }
  const kube = (f as KubeFile).kubernetes;
  if (kube?.kubeconfig) return kubernetesStatus(f.name, kube);
  const objs = await readObjects(f.configDir).catch(() => []);
  const labelsOf = new Map<string, Record<string, string>>();
  for (const { obj } of objs) {
    const m = obj.metadata as { name?: string; namespace?: string; labels?: Record<string, string> };
    if (obj.kind === 'Namespace') labelsOf.set(`ns:${m.name}`, m.labels ?? {});
    if (obj.kind === 'Pod') labelsOf.set(`${m.namespace}/${m.name}`, m.labels ?? {});
  }
  const ambient = (ns: string, name: string): boolean => {
    const mode =
      labelsOf.get(`${ns}/${name}`)?.['istio.io/dataplane-mode'] ??
      labelsOf.get(`ns:${ns}`)?.['istio.io/dataplane-mode'];
    return mode === 'ambient';
  };
  const w = (s: string): void => void process.stdout.write(s);
  w(`cluster ${f.name} (${f.mode}, ${f.ready ? 'ready' : 'starting'}), config ${f.configDir}\n\n`);
  w(
    formatTable(
      ['COMPONENT', 'ADDRESS', 'STATE', 'RESTARTS'],
      [
        ['istiod', f.istiod.address, state(f.istiod.pid), String(f.istiod.restarts)],
        ...f.nodes.map((n) => [
          `ztunnel ${n.name}`,
          n.admin,
          state(n.ztunnel.pid),
          String(n.ztunnel.restarts),
        ]),
      ],
      { gap: 3 },
    ),
  );
  w('\n');
  w(
    formatTable(
      ['NODE', 'IP', 'POD RANGE'],
      f.nodes.map((n) => [n.name, n.ip, n.podCidr]),
      { gap: 3 },
    ),
  );
  w('\n');
  w(
    formatTable(
      ['POD', 'IP', 'NODE', 'RUNNING', 'AMBIENT', 'SIDECAR', 'RESTARTS', 'AGE'],
      f.pods.map((p) => [
        `${p.namespace}/${p.name}`,
        p.ip,
        p.node,
        p.pids.length === 0 || p.pids.some(isAlive) ? 'yes' : 'no',
        !p.sidecar && ambient(p.namespace, p.name) ? 'yes' : 'no',
        p.sidecar ? 'yes' : 'no',
        String(p.restarts),
        age(p.created),
      ]),
      { gap: 3 },
    ),
  );
  if (f.services.length > 0) {
    w('\n');
    w(
      formatTable(
        ['SERVICE', 'CLUSTER-IP', 'PORTS'],
        f.services.map((s) => [
          `${s.namespace}/${s.name}`,
          s.clusterIP,
          s.ports.map((p) => `${p.port}->${p.targetPort}`).join(','),
        ]),
        { gap: 3 },
      ),
    );
  }
  return 0;
}
