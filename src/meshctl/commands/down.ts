/**
 * `meshctl down`: stops the local cluster and removes everything it created.
 */
import { parseCommand } from '../options.js';
import { readClusterFile } from '../../local/cluster/state.js';
import { cleanupCluster } from '../../local/cluster/cluster.js';
import { CLUSTER_OPTIONS } from './up.js';

const USAGE = `Usage: meshctl down [--state-dir DIR] [--name NAME]

Stops the local cluster (its processes) and removes its namespaces, links, nftables tables and
/etc/netns entries. Safe to run when nothing is up.`;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, CLUSTER_OPTIONS, argv);
  if (!args) return 0;
  const { stateDir } = args.config;
  const f = await readClusterFile(stateDir);
  const name = f?.name ?? args.config.name;
  if (f?.pid && f.pid !== process.pid) {
    // The foreground `up` tears down on SIGTERM; give it a moment before cleaning up ourselves.
    try {
      process.kill(f.pid, 'SIGTERM');
      const end = Date.now() + 15_000;
      while (Date.now() < end && (await readClusterFile(stateDir)))
        await new Promise((r) => setTimeout(r, 200));
    } catch {
      /* not running */
    }
  }
  await cleanupCluster(name, stateDir, (m) => process.stdout.write(`  ${m}\n`));
  process.stdout.write(`cluster "${name}" is down\n`);
  return 0;
}
