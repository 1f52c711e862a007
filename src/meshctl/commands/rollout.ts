/**
 * `meshctl rollout restart ztunnel [--node NODE]`: asks the running local cluster to replace its
 * ztunnels, node by node, the way a DaemonSet rolls with maxSurge 1 / maxUnavailable 0.
 * `meshctl rollout restart deployment NAME -n NS`: recreates a Deployment's pods (injection applies).
 */
import { parsers } from '../../common/config.js';
import { parseCommand } from '../options.js';
import { callControl } from '../../local/cluster/control.js';
import { currentCluster } from '../../local/cluster/state.js';
import { CLUSTER_OPTIONS } from './up.js';

const USAGE = `Usage: meshctl rollout restart ztunnel [--node NODE]
       meshctl rollout restart deployment NAME [-n NAMESPACE]

deployment: removes the Deployment's pods and creates them again from the current objects, so a
namespace label such as istio-injection=enabled (sidecar injection) takes effect, as in Istio.

Replaces the ztunnel of each node (or of NODE) in the running local cluster: the new process starts
beside the old one and listens on the same ports (SO_REUSEPORT), the node agent hands it the node's
pods, and once it has opened every pod's listeners the old one stops accepting and drains its open
connections for its grace period (meshctl up --ztunnel-drain). No new connection is refused meanwhile.`;

const SCHEMA = {
  stateDir: CLUSTER_OPTIONS.stateDir,
  node: { flag: 'node', doc: 'only this node', default: '', parse: parsers.string },
  namespace: {
    flag: 'namespace',
    doc: 'the deployment namespace (-n)',
    default: 'default',
    parse: parsers.string,
  },
};

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, SCHEMA, argv);
  if (!args) return 0;
  const [verb, target, name] = args.rest;
  if (verb !== 'restart' || (target !== 'ztunnel' && !(target === 'deployment' && name))) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const { stateDir, node } = args.config;
  const c = currentCluster(stateDir);
  if (!c || c.mode !== 'capture') {
    process.stderr.write(
      `meshctl rollout: no namespace cluster running in ${stateDir} (meshctl up starts one; loopback mode has no rollout)\n`,
    );
    return 2;
  }
  if (target === 'deployment') {
    const ns = args.config.namespace;
    const d = await callControl(
      stateDir,
      { op: 'rollout-restart', target: 'deployment', name: name!, namespace: ns },
      (line) => process.stdout.write(`  ${line}\n`),
    );
    if (!d.ok) {
      process.stderr.write(`meshctl rollout: ${d.message}\n`);
      return 1;
    }
    process.stdout.write(`deployment.apps/${name} restarted\n`);
    return 0;
  }
  const r = await callControl(
    stateDir,
    { op: 'rollout-restart', target: 'ztunnel', ...(node ? { node } : {}) },
    (line) => process.stdout.write(`  ${line}\n`),
  );
  if (!r.ok) {
    process.stderr.write(`meshctl rollout: ${r.message}\n`);
    return 1;
  }
  process.stdout.write(`ztunnel rolled out${node ? ` on ${node}` : ''}\n`);
  return 0;
}
