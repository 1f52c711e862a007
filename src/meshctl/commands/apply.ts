import { kindIdOf } from '../../istiod/config/kinds.js';
import { missingGateways } from '../../istiod/l7/classic-gateway-configs.js';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { parseDocuments } from '../../istiod/config/parse-documents.js';
import {
  keyOf,
  type ConfigObject,
  type IstioGateway,
  type VirtualService,
} from '../../istiod/config/types.js';
import { ConfigDir } from '../config-dir.js';
import { CONFIG_DIR_OPTION, FILENAME_OPTION, parseCommand } from '../options.js';
import { resourceName } from '../resource-name.js';

const USAGE = `Usage: meshctl apply -f FILE [-f FILE ...] [--config-dir DIR]

Validates every object in the FILEs (YAML or JSON, several documents allowed; - for stdin) and, only if
all are valid, writes each to its own file in the configuration directory. Kinds the mesh does not read
are skipped with a warning.`;

const SCHEMA = {
  configDir: CONFIG_DIR_OPTION,
  filename: FILENAME_OPTION('file to apply (-f, repeatable); - for stdin'),
};

/** The object without the fields meshctl manages, for "unchanged" checks. */
function userPart(obj: ConfigObject): unknown {
  const { uid: _u, creationTimestamp: _c, generation: _g, resourceVersion: _r, ...meta } = obj.metadata;
  return { ...obj, metadata: meta };
}

export async function readInput(filename: string): Promise<string> {
  if (filename !== '-') return readFile(filename, 'utf8');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, SCHEMA, argv);
  if (!args) return 0;
  const { filename: files, configDir } = args.config;
  if (files.length === 0) {
    process.stderr.write('meshctl apply: give the file to apply with -f FILE\n');
    return 2;
  }
  const documents = [];
  for (const filename of files) {
    const parsed = parseDocuments(await readInput(filename), filename === '-' ? 'stdin' : filename);
    if (!parsed.ok) {
      process.stderr.write(`error: ${parsed.issue.text}\nmeshctl apply: nothing applied\n`);
      return 1;
    }
    documents.push(...parsed.documents);
  }
  const valid: ConfigObject[] = [];
  const errors: string[] = [];
  for (const d of documents) {
    const r = d.result;
    if (r.status === 'ignored')
      process.stderr.write(`warning: skipped ${r.apiVersion} ${r.kind}: not a kind the mesh reads\n`);
    else if (r.status === 'invalid') errors.push(...r.issues.map((i) => i.text));
    else valid.push(r.object);
  }
  if (errors.length > 0) {
    for (const e of errors) process.stderr.write(`error: ${e}\n`);
    process.stderr.write(
      `meshctl apply: nothing applied (${errors.length} error${errors.length > 1 ? 's' : ''})\n`,
    );
    return 1;
  }
  const dir = new ConfigDir(configDir);
  const { objects } = await dir.load();
  const plan: { obj: ConfigObject; file: string; verb: string }[] = [];
  for (const obj of valid) {
    const target = dir.targetFile(obj, objects);
    if (typeof target !== 'string') {
      process.stderr.write(`error: ${resourceName(obj)}: ${target.error}\nmeshctl apply: nothing applied\n`);
      return 1;
    }
    const old = objects.get(keyOf(obj))?.object;
    const meta = obj.metadata;
    meta.uid = old?.metadata.uid ?? meta.uid ?? randomUUID();
    meta.creationTimestamp =
      old?.metadata.creationTimestamp ??
      meta.creationTimestamp ??
      new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const same = old !== undefined && isDeepStrictEqual(userPart(old), userPart(obj));
    meta.generation = old ? (old.metadata.generation ?? 1) + (same ? 0 : 1) : 1;
    plan.push({ obj, file: target, verb: !old ? 'created' : same ? 'unchanged' : 'configured' });
  }
  for (const p of plan) {
    if (p.verb !== 'unchanged') await dir.write(p.obj, p.file);
    process.stdout.write(`${resourceName(p.obj)} ${p.verb}\n`);
  }
  // As istioctl analyze: a VirtualService bound to a Gateway that does not exist (IST0101).
  const gateways = [
    ...[...objects.values()].map((s) => s.object).filter((o) => !valid.some((v) => keyOf(v) === keyOf(o))),
    ...valid,
  ].filter((o): o is IstioGateway => kindIdOf(o) === 'IstioGateway');
  for (const vs of valid) {
    if (kindIdOf(vs) !== 'VirtualService') continue;
    for (const g of missingGateways(vs as VirtualService, gateways))
      process.stderr.write(
        `warning: [IST0101] (VirtualService ${vs.metadata.namespace}/${vs.metadata.name}) Referenced gateway not found: "${g}"\n`,
      );
  }
  return 0;
}
