import { stringify } from 'yaml';
import { parsers } from '../../common/config.js';
import { KINDS, kindIdOf, resolveKindName } from '../../istiod/config/kinds.js';
import type { ConfigObject } from '../../istiod/config/types.js';
import { ConfigDir } from '../config-dir.js';
import { renderTable } from '../get-columns.js';
import { CONFIG_DIR_OPTION, parseCommand } from '../options.js';

const USAGE = `Usage: meshctl get KIND [NAME] [-n NAMESPACE | -A] [-o yaml|json] [--show-labels]

Lists objects of the configuration directory, as kubectl get does. KIND may be a name, a plural or a
short name: ${KINDS.map((k) => [k.kind.toLowerCase(), ...k.shortNames].join('/')).join(', ')}.`;

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
  output: {
    flag: 'output',
    doc: 'output format (-o): table, yaml or json',
    default: 'table',
    parse: parsers.oneOf('table', 'yaml', 'json'),
  },
  showLabels: {
    flag: 'show-labels',
    doc: 'add a LABELS column',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
};

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, SCHEMA, argv);
  if (!args) return 0;
  const [kindName, name] = args.rest;
  const info = kindName ? resolveKindName(kindName) : undefined;
  if (!info) {
    const what = kindName
      ? `the server doesn't have a resource type "${kindName}"`
      : 'give a kind (see meshctl get --help)';
    process.stderr.write(`error: ${what}\n`);
    return 1;
  }
  const { config } = args;
  const ns = info.namespaced && !config.allNamespaces ? config.namespace : undefined;
  const { objects, issues } = await new ConfigDir(config.configDir).load();
  for (const i of issues) process.stderr.write(`warning: ${i.text}\n`);
  const found: ConfigObject[] = [...objects.values()]
    .map((s) => s.object)
    .filter(
      (o) =>
        kindIdOf(o) === info.id &&
        (ns === undefined || o.metadata.namespace === ns) &&
        (!name || o.metadata.name === name),
    )
    .sort(
      (a, b) =>
        (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
        a.metadata.name.localeCompare(b.metadata.name),
    );
  if (name && found.length === 0) {
    process.stderr.write(`error: ${info.plural}${info.group ? `.${info.group}` : ''} "${name}" not found\n`);
    return 1;
  }
  const single = name ? found[0] : undefined;
  if (config.output !== 'table') {
    const doc = single ?? { apiVersion: 'v1', kind: 'List', items: found };
    process.stdout.write(config.output === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : stringify(doc));
    return 0;
  }
  if (found.length === 0) {
    process.stderr.write(ns ? `No resources found in ${ns} namespace.\n` : 'No resources found\n');
    return 0;
  }
  process.stdout.write(
    renderTable(info.id, found, info.namespaced && config.allNamespaces, config.showLabels),
  );
  return 0;
}
