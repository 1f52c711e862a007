import { parsers } from '../../common/config.js';
import { labelKeyProblem } from '../../istiod/config/fields.js';
import { resolveKindName } from '../../istiod/config/kinds.js';
import { objectKey, type Namespace } from '../../istiod/config/types.js';
import { validateObject } from '../../istiod/config/validate.js';
import { ConfigDir } from '../config-dir.js';
import { CONFIG_DIR_OPTION, parseCommand } from '../options.js';
import { kindLabel, resourceName } from '../resource-name.js';

const USAGE = `Usage: meshctl label KIND NAME key=value ... [key-] [--overwrite] [-n NAMESPACE]

Sets (key=value) or removes (key-) labels of an object in the configuration directory, as kubectl
label does. NAME may be NAMESPACE/NAME. A Namespace that does not exist yet is created.
Example: meshctl label namespace demo istio.io/dataplane-mode=ambient`;

const SCHEMA = {
  configDir: CONFIG_DIR_OPTION,
  namespace: {
    flag: 'namespace',
    doc: 'namespace of the object (-n)',
    default: 'default',
    parse: parsers.string,
  },
  overwrite: {
    flag: 'overwrite',
    doc: 'allow changing an existing label',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
};

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, SCHEMA, argv);
  if (!args) return 0;
  const [kindName, target, ...changes] = args.rest;
  const info = kindName ? resolveKindName(kindName) : undefined;
  if (!info || !target || changes.length === 0) {
    process.stderr.write(
      `meshctl label: give a kind, a name and key=value or key- (see meshctl label --help)\n`,
    );
    return 2;
  }
  const slash = target.indexOf('/');
  const name = slash >= 0 ? target.slice(slash + 1) : target;
  const ns = info.namespaced ? (slash >= 0 ? target.slice(0, slash) : args.config.namespace) : undefined;
  const dir = new ConfigDir(args.config.configDir);
  const { objects } = await dir.load();
  const stored = objects.get(objectKey(info.id, ns, name));
  let obj = stored?.object;
  if (!obj && info.id === 'Namespace') {
    const ns: Namespace = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
    };
    obj = ns;
  }
  if (!obj) {
    process.stderr.write(`error: ${kindLabel(info)} ${ns ? `${ns}/` : ''}${name} not found\n`);
    return 1;
  }
  const labels = { ...(obj.metadata.labels ?? {}) };
  for (const c of changes) {
    if (c.endsWith('-') && !c.includes('=')) {
      delete labels[c.slice(0, -1)];
      continue;
    }
    const eq = c.indexOf('=');
    const key = eq > 0 ? c.slice(0, eq) : '';
    const problem = eq > 0 ? labelKeyProblem(key) : `"${c}" is not key=value or key-`;
    if (problem) {
      process.stderr.write(`error: ${problem}\n`);
      return 1;
    }
    const value = c.slice(eq + 1);
    if (labels[key] !== undefined && labels[key] !== value && !args.config.overwrite) {
      process.stderr.write(
        `error: '${key}' already has a value (${labels[key]}), and --overwrite is false\n`,
      );
      return 1;
    }
    labels[key] = value;
  }
  const next = { ...obj, metadata: { ...obj.metadata, labels } };
  const r = validateObject(next);
  if (r.status !== 'valid') {
    for (const i of r.status === 'invalid' ? r.issues : []) process.stderr.write(`error: ${i.text}\n`);
    return 1;
  }
  const file = stored ? stored.file : dir.targetFile(r.object, objects);
  if (typeof file !== 'string' || (stored && stored.objectsInFile > 1)) {
    process.stderr.write(`error: ${stored?.file ?? ''} holds other objects too; edit that file by hand\n`);
    return 1;
  }
  await dir.write(r.object, file);
  process.stdout.write(`${resourceName(r.object)} ${stored ? 'labeled' : 'created and labeled'}\n`);
  return 0;
}
