import { kindIdOf } from '../../istiod/config/kinds.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { parsers } from '../../common/config.js';
import { objectKey, type ConfigObject, type Gateway, type Namespace } from '../../istiod/config/types.js';
import { validateObject } from '../../istiod/config/validate.js';
import { ConfigDir } from '../config-dir.js';
import { CONFIG_DIR_OPTION, parseCommand } from '../options.js';
import { formatTable } from '../text-table.js';
import { waypointEndpoints } from './waypoint-endpoints.js';

const USAGE = `Usage: meshctl waypoint apply|list|status|endpoints|delete [NAME...] -n NAMESPACE [options]

Manages waypoints as istioctl does: a waypoint is a Gateway of class istio-waypoint with one listener
"mesh" (port 15008, HBONE). The local cluster runs a waypoint pod for it (its own identity
spiffe://cluster.local/ns/<ns>/sa/<name>), a Service of the same name, and writes the Gateway's status.

  apply   create or update the waypoint (--name, --for); --enroll-namespace labels the namespace
          istio.io/use-waypoint=<name>; --wait returns once it is programmed (has its configuration)
  list    waypoints in the namespace (-A: all)
  status  the waypoint's conditions
  endpoints  each cluster's endpoints now: outlier detection (HEALTHY/EJECTED, why, until when),
          connection pool in use, JWKS fetch state (--waypoint-admin HOST:PORT to name the waypoint)
  delete  remove the named waypoints (or --all in the namespace)`;

const SCHEMA = {
  configDir: CONFIG_DIR_OPTION,
  namespace: { flag: 'namespace', doc: 'namespace (-n)', default: 'default', parse: parsers.string },
  name: { flag: 'name', doc: 'waypoint name', default: 'waypoint', parse: parsers.string },
  for: {
    flag: 'for',
    doc: 'traffic it takes: service, workload, all or none',
    default: 'service',
    parse: parsers.string,
  },
  enrollNamespace: {
    flag: 'enroll-namespace',
    doc: 'label the namespace istio.io/use-waypoint=<name>',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
  wait: {
    flag: 'wait',
    doc: 'wait until the waypoint is programmed',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
  timeout: { flag: 'timeout', doc: 'seconds --wait waits', default: 90, parse: parsers.int(1, 3600) },
  allNamespaces: {
    flag: 'all-namespaces',
    doc: 'list in every namespace (-A)',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
  waypointAdmin: {
    flag: 'waypoint-admin',
    doc: 'the waypoint metrics address HOST:PORT (endpoints; default the pod address, port 15020)',
    default: '',
    parse: parsers.string,
  },
  all: {
    flag: 'all',
    doc: 'delete every waypoint of the namespace',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
};

type Args = NonNullable<ReturnType<typeof parseCommand<typeof SCHEMA>>>;

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

function isWaypoint(o: ConfigObject): o is Gateway {
  return kindIdOf(o) === 'Gateway' && (o as Gateway).spec.gatewayClassName === 'istio-waypoint';
}

function condition(g: Gateway, type: string): { status?: string; reason?: string; message?: string } {
  const conds = (g.status as { conditions?: Array<Record<string, string>> } | undefined)?.conditions ?? [];
  return conds.find((c) => c.type === type) ?? {};
}

async function write(dir: ConfigDir, obj: ConfigObject): Promise<string | undefined> {
  const r = validateObject(obj);
  if (r.status !== 'valid') return r.status === 'invalid' ? r.issues.map((i) => i.text).join('; ') : r.reason;
  const { objects } = await dir.load();
  const file = dir.targetFile(r.object, objects);
  if (typeof file !== 'string') return file.error;
  await dir.write(r.object, file);
  return undefined;
}

async function apply(a: Args): Promise<number> {
  const { namespace: ns, name } = a.config;
  if (!['service', 'workload', 'all', 'none'].includes(a.config.for)) {
    process.stderr.write(`error: --for ${a.config.for}: use service, workload, all or none\n`);
    return 2;
  }
  const dir = new ConfigDir(a.config.configDir);
  const { objects } = await dir.load();
  const old = objects.get(objectKey('Gateway', ns, name))?.object as Gateway | undefined;
  const gw: Gateway = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: {
      name,
      namespace: ns,
      labels: { ...old?.metadata.labels, 'istio.io/waypoint-for': a.config.for },
      creationTimestamp: old?.metadata.creationTimestamp ?? now(),
    },
    spec: {
      gatewayClassName: 'istio-waypoint',
      listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }],
    },
  };
  if (old?.status) gw.status = old.status;
  const err = await write(dir, gw);
  if (err) {
    process.stderr.write(`error: ${err}\n`);
    return 1;
  }
  process.stdout.write(`waypoint ${ns}/${name} applied\n`);
  if (a.config.enrollNamespace) {
    const cur = objects.get(objectKey('Namespace', undefined, ns))?.object as Namespace | undefined;
    const nsObj: Namespace = cur ?? {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, creationTimestamp: now() },
    };
    nsObj.metadata.labels = { ...nsObj.metadata.labels, 'istio.io/use-waypoint': name };
    const e2 = await write(dir, nsObj);
    if (e2) {
      process.stderr.write(`error: ${e2}\n`);
      return 1;
    }
    process.stdout.write(`namespace ${ns} labeled with "istio.io/use-waypoint: ${name}"\n`);
  }
  if (!a.config.wait) return 0;
  const end = Date.now() + a.config.timeout * 1000;
  while (Date.now() < end) {
    const g = (await dir.load()).objects.get(objectKey('Gateway', ns, name))?.object as Gateway | undefined;
    if (g && condition(g, 'Programmed').status === 'True') {
      process.stdout.write(`waypoint ${ns}/${name} is programmed and serving\n`);
      return 0;
    }
    await sleep(500);
  }
  process.stderr.write(
    `error: waypoint ${ns}/${name} was not programmed within ${a.config.timeout} s; is the local cluster running (meshctl status)? see meshctl waypoint status -n ${ns}\n`,
  );
  return 1;
}

async function waypoints(a: Args): Promise<Gateway[]> {
  const { objects } = await new ConfigDir(a.config.configDir).load();
  return [...objects.values()]
    .map((s) => s.object)
    .filter(isWaypoint)
    .filter((g) => a.config.allNamespaces || g.metadata.namespace === a.config.namespace);
}

async function list(a: Args): Promise<number> {
  const rows = (await waypoints(a)).map((g) => [
    g.metadata.namespace ?? 'default',
    g.metadata.name,
    g.metadata.labels?.['istio.io/waypoint-for'] ?? 'service',
    condition(g, 'Programmed').status ?? 'Unknown',
    ((g.status as { addresses?: Array<{ value: string }> } | undefined)?.addresses ?? [])
      .map((x) => x.value)
      .join(','),
  ]);
  if (rows.length === 0) {
    process.stdout.write(
      `No waypoints found in ${a.config.allNamespaces ? 'any namespace' : `namespace ${a.config.namespace}`}.\n`,
    );
    return 0;
  }
  process.stdout.write(formatTable(['NAMESPACE', 'NAME', 'FOR', 'PROGRAMMED', 'ADDRESS'], rows, { gap: 3 }));
  return 0;
}

async function status(a: Args): Promise<number> {
  const names = a.rest.length ? a.rest : [a.config.name];
  const found = (await waypoints(a)).filter((g) => names.includes(g.metadata.name));
  if (found.length === 0) {
    process.stderr.write(`error: no waypoint ${names.join(', ')} in namespace ${a.config.namespace}\n`);
    return 1;
  }
  const rows: string[][] = [];
  for (const g of found)
    for (const t of ['Accepted', 'Programmed']) {
      const c = condition(g, t);
      rows.push([g.metadata.name, t, c.status ?? 'Unknown', c.reason ?? '', c.message ?? '']);
    }
  process.stdout.write(formatTable(['NAME', 'CONDITION', 'STATUS', 'REASON', 'MESSAGE'], rows, { gap: 3 }));
  return 0;
}

async function remove(a: Args): Promise<number> {
  const dir = new ConfigDir(a.config.configDir);
  const { objects } = await dir.load();
  const all = (await waypoints(a)).map((g) => g.metadata.name);
  const names = a.config.all ? all : a.rest.length ? a.rest : [a.config.name];
  let code = 0;
  for (const n of names) {
    const s = objects.get(objectKey('Gateway', a.config.namespace, n));
    if (!s || !isWaypoint(s.object)) {
      process.stderr.write(`error: waypoint ${a.config.namespace}/${n} not found\n`);
      code = 1;
      continue;
    }
    if (s.objectsInFile > 1) {
      process.stderr.write(`error: ${s.file} holds other objects too; edit that file by hand\n`);
      code = 1;
      continue;
    }
    await dir.remove(s.file);
    process.stdout.write(`waypoint ${a.config.namespace}/${n} deleted\n`);
  }
  return code;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseCommand(USAGE, SCHEMA, argv);
  if (!a) return 0;
  const [verb, ...rest] = a.rest;
  const args = { ...a, rest };
  switch (verb) {
    case 'apply':
      return apply(args);
    case 'list':
      return list(args);
    case 'status':
      return status(args);
    case 'delete':
      return remove(args);
    case 'endpoints':
      return waypointEndpoints({
        configDir: args.config.configDir,
        namespace: args.config.namespace,
        name: rest[0] ?? args.config.name,
        admin: args.config.waypointAdmin,
      });
    default:
      process.stderr.write(
        `meshctl waypoint: give apply, list, status or delete (see meshctl waypoint --help)\n`,
      );
      return 2;
  }
}
