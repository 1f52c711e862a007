import { parsers } from '../../common/config.js';
import { resolveKindName } from '../../istiod/config/kinds.js';
import { parseDocuments } from '../../istiod/config/parse-documents.js';
import { identify } from '../../istiod/config/validate.js';
import { describeObject, objectKey } from '../../istiod/config/types.js';
import { ConfigDir } from '../config-dir.js';
import { CONFIG_DIR_OPTION, FILENAME_OPTION, parseCommand } from '../options.js';
import { kindLabel, resourceName } from '../resource-name.js';
import { readInput } from './apply.js';

const USAGE = `Usage: meshctl delete -f FILE [-f FILE ...] [--config-dir DIR]
       meshctl delete KIND NAME [-n NAMESPACE]

Removes the objects named in the FILEs (or the one named on the command line) from the configuration
directory. Only the identity (kind, namespace, name) of each object in FILE is used.`;

const SCHEMA = {
  configDir: CONFIG_DIR_OPTION,
  filename: FILENAME_OPTION('file naming the objects to delete (-f, repeatable); - for stdin'),
  namespace: { flag: 'namespace', doc: 'namespace (-n)', default: 'default', parse: parsers.string },
  ignoreNotFound: {
    flag: 'ignore-not-found',
    doc: 'do not fail when an object is absent',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
};

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, SCHEMA, argv);
  if (!args) return 0;
  const { filename: files, configDir, namespace, ignoreNotFound } = args.config;
  const targets: { key: string; label: string }[] = [];
  if (files.length > 0) {
    for (const filename of files) {
      const parsed = parseDocuments(await readInput(filename), filename);
      if (!parsed.ok) {
        process.stderr.write(`error: ${parsed.issue.text}\n`);
        return 1;
      }
      for (const d of parsed.documents) {
        const id = identify(d.raw);
        if (id)
          targets.push({
            key: objectKey(id.info.id, id.namespace, id.name),
            label: describeObject(kindLabel(id.info), id.namespace, id.name),
          });
      }
    }
  } else {
    const [kindName, name] = args.rest;
    const info = kindName ? resolveKindName(kindName) : undefined;
    if (!info || !name) {
      process.stderr.write(
        `meshctl delete: give -f FILE, or a kind and a name${kindName && !info ? ` ("${kindName}" is not a known kind)` : ''}\n`,
      );
      return 2;
    }
    const ns = info.namespaced ? namespace : undefined;
    targets.push({ key: objectKey(info.id, ns, name), label: describeObject(kindLabel(info), ns, name) });
  }
  const dir = new ConfigDir(configDir);
  const { objects } = await dir.load();
  let failed = false;
  for (const t of targets) {
    const stored = objects.get(t.key);
    if (!stored) {
      if (!ignoreNotFound) {
        process.stderr.write(`error: ${t.label} not found\n`);
        failed = true;
      }
      continue;
    }
    if (stored.objectsInFile > 1) {
      process.stderr.write(
        `error: ${t.label} is in ${stored.file} together with other objects; edit that file by hand\n`,
      );
      failed = true;
      continue;
    }
    await dir.remove(stored.file);
    process.stdout.write(`${resourceName(stored.object)} deleted\n`);
  }
  return failed ? 1 : 0;
}
