/**
 * Flags shared by the meshctl configuration commands, and kubectl-style short flags
 * (`-f`, `-n`, `-A`, `-o`) turned into the long ones before parseConfig reads them.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, parsers, helpText, type Schema, type ConfigOf } from '../common/config.js';
import { currentCluster } from '../local/cluster/state.js';

/**
 * The configuration directory meshctl acts on when neither --config-dir nor MESH_CONFIG_DIR names one:
 * the running local cluster's (what its istiod and kubelet role read, as kubectl acts on the current
 * context), else ~/.meshlite/config.
 */
export function defaultConfigDir(): string {
  return currentCluster()?.configDir ?? join(homedir(), '.meshlite', 'config');
}

export const CONFIG_DIR_OPTION = {
  flag: 'config-dir',
  env: 'MESH_CONFIG_DIR',
  doc: "directory of the configuration (one YAML file per object); default: the running local cluster's, else ~/.meshlite/config",
  default: defaultConfigDir(),
  parse: parsers.string,
};

const SHORT: Record<string, string> = {
  '-f': '--filename',
  '-n': '--namespace',
  '-A': '--all-namespaces',
  '-o': '--output',
};

/** `-f FILE` (`--filename`), given once or more: the files in order. */
export const FILENAME_OPTION = (doc: string) => ({
  flag: 'filename',
  doc,
  default: [] as string[],
  parse: (raw: string): string[] => [raw],
  repeatable: true,
});

export function expandShortFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of argv) {
    if (a === '--') {
      out.push(...argv.slice(argv.indexOf(a)));
      break;
    }
    const m = /^(-[fnAo])(=?)(.*)$/.exec(a);
    if (m && SHORT[m[1]!]) out.push(m[3] ? `${SHORT[m[1]!]!}=${m[3]}` : SHORT[m[1]!]!);
    else out.push(a);
  }
  return out;
}

export interface CommandArgs<S extends Schema> {
  config: ConfigOf<S>;
  rest: string[];
}

/** Parses argv for a command; prints help and returns undefined for `--help`. */
export function parseCommand<S extends Schema>(
  usage: string,
  schema: S,
  argv: readonly string[],
): CommandArgs<S> | undefined {
  const parsed = parseConfig(schema, expandShortFlags(argv));
  if (parsed.help) {
    process.stdout.write(`${usage}\n\nOptions (flag, environment variable):\n${helpText(schema)}\n`);
    return undefined;
  }
  return { config: parsed.config, rest: parsed.rest };
}
