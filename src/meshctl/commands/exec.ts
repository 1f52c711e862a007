/**
 * `meshctl exec <ns>/<pod-or-deployment> -- CMD ARGS...`: runs a program inside a pod's namespace.
 */
import { spawn } from 'node:child_process';
import { parseCommand } from '../options.js';
import { readClusterFile } from '../../local/cluster/state.js';
import { CLUSTER_OPTIONS } from './up.js';

const USAGE = `Usage: meshctl exec <namespace>/<pod-or-deployment> -- CMD ARGS...

Runs CMD inside the pod's network namespace, with the pod's DNS settings. A deployment name picks its
first pod. Example: meshctl exec default/curl -- curl -s http://echo:8080/`;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, CLUSTER_OPTIONS, argv);
  if (!args) return 0;
  const [target, ...cmd] = args.rest.filter((a, i) => !(a === '--' && i <= 1));
  if (!target || cmd.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const f = await readClusterFile(args.config.stateDir);
  if (!f) {
    process.stderr.write(`meshctl exec: no cluster in ${args.config.stateDir}; run meshctl up first\n`);
    return 2;
  }
  const [ns, name] = target.includes('/') ? target.split('/', 2) : ['default', target];
  const pod = f.pods.find((p) => p.namespace === ns && (p.name === name || p.deployment === name));
  if (!pod) {
    process.stderr.write(`meshctl exec: no pod or deployment ${ns}/${name}; see meshctl status\n`);
    return 2;
  }
  const child = spawn('ip', ['netns', 'exec', pod.netns, ...cmd], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}
