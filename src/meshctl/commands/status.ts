/**
 * `meshctl status`: nodes, pods (IP, node, ready, ambient), services and ztunnels of the local cluster.
 */
import { join } from 'node:path';
import { parseCommand } from '../options.js';
import { readClusterFile } from '../../local/cluster/state.js';
import { readObjects } from '../../local/cluster/manifests.js';
import { CLUSTER_OPTIONS } from './up.js';

const USAGE = `Usage: meshctl status [--state-dir DIR]

Shows the local cluster: nodes and their ztunnels, pods (IP, node, running, ambient), services.`;

const alive = (pid?: number): boolean => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, CLUSTER_OPTIONS, argv);
  if (!args) return 0;
  const f = await readClusterFile(args.config.stateDir);
  if (!f) {
    process.stdout.write(`no cluster in ${args.config.stateDir} (meshctl up starts one)\n`);
    return 1;
  }
  const objs = await readObjects(join(f.stateDir, 'config')).catch(() => []);
  const nsLabels = new Map<string, Record<string, string>>();
  for (const { obj } of objs) {
    if (obj.kind === 'Namespace')
      nsLabels.set(String(obj.metadata?.name), (obj.metadata?.labels ?? {}) as Record<string, string>);
  }
  const podLabels = new Map<string, Record<string, string>>();
  for (const { obj } of objs) {
    if (obj.kind === 'Pod')
      podLabels.set(
        `${String(obj.metadata?.namespace)}/${String(obj.metadata?.name)}`,
        (obj.metadata?.labels ?? {}) as Record<string, string>,
      );
  }
  const ambient = (ns: string, name: string): boolean => {
    const pl = podLabels.get(`${ns}/${name}`) ?? {};
    const mode = pl['istio.io/dataplane-mode'] ?? nsLabels.get(ns)?.['istio.io/dataplane-mode'];
    return mode === 'ambient';
  };
  const w = (s: string): void => void process.stdout.write(`${s}\n`);
  w(`cluster ${f.name} (${f.mode}, ${f.ready ? 'ready' : 'starting'}), state ${f.stateDir}`);
  w(`istiod  ${f.istiod.address}  ${alive(f.istiod.pid) ? 'running' : 'DOWN'}`);
  w('\nNODE      IP              POD RANGE        ZTUNNEL');
  for (const n of f.nodes)
    w(
      `${n.name.padEnd(10)}${n.ip.padEnd(16)}${n.podCidr.padEnd(17)}${alive(n.ztunnelPid) ? 'running' : 'DOWN'}`,
    );
  w('\nPOD                       IP              NODE      RUNNING  AMBIENT');
  for (const p of f.pods) {
    const running = p.pids.some(alive) || p.pids.length === 0;
    w(
      `${`${p.namespace}/${p.name}`.padEnd(26)}${p.ip.padEnd(16)}${p.node.padEnd(10)}${(running ? 'yes' : 'no').padEnd(9)}${ambient(p.namespace, p.name) ? 'yes' : 'no'}`,
    );
  }
  w('\nSERVICE                   CLUSTER-IP      PORTS');
  for (const s of f.services)
    w(
      `${`${s.namespace}/${s.name}`.padEnd(26)}${s.clusterIP.padEnd(16)}${s.ports.map((p) => `${p.port}->${p.targetPort}`).join(',')}`,
    );
  return 0;
}
