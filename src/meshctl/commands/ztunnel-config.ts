import { stringify } from 'yaml';
import { parsers } from '../../common/config.js';
import {
  TIMEOUT_OPTION,
  ZTUNNEL_ADMIN_OPTION,
  discoverZtunnels,
  joinRepeatedFlag,
} from '../mesh-endpoints.js';
import { parseCommand } from '../options.js';
import { formatTable } from '../text-table.js';
import { fetchDumps, unreachableLine, type ZtunnelDump } from '../ztunnel-dump.js';
import {
  certificateTable,
  mergeDumps,
  policyTable,
  serviceTable,
  workloadTable,
  type NodeCertificate,
  type Table,
} from '../ztunnel-tables.js';

const USAGE = `Usage: meshctl ztunnel-config workloads|services|policies|certificates|all [--node NODE]
                              [-n NAMESPACE] [-o table|json|yaml] [--ztunnel-admin HOST:PORT ...]

Shows what ztunnel holds, read from its admin port (GET /config_dump), in the columns of
istioctl ztunnel-config. Every ztunnel holds the mesh-wide workloads, services and policies: with several
admin addresses the tables show their union; certificates are per node (a NODE column is added).
--node NODE shows only the ztunnel of that node. -o json|yaml prints the raw entries instead.`;

const SCHEMA = {
  ztunnelAdmin: ZTUNNEL_ADMIN_OPTION,
  node: { flag: 'node', doc: 'only the ztunnel of this node', default: '', parse: parsers.string },
  namespace: {
    flag: 'namespace',
    doc: 'only entries of this namespace (-n); none: every namespace',
    default: '',
    parse: parsers.string,
  },
  output: {
    flag: 'output',
    doc: 'output format (-o): table, json or yaml',
    default: 'table',
    parse: parsers.oneOf('table', 'json', 'yaml'),
  },
  timeout: TIMEOUT_OPTION,
};

type Section = 'workloads' | 'services' | 'policies' | 'certificates' | 'all';

const SECTIONS: Record<string, Section> = {
  workload: 'workloads',
  workloads: 'workloads',
  service: 'services',
  services: 'services',
  policy: 'policies',
  policies: 'policies',
  certificate: 'certificates',
  certificates: 'certificates',
  secret: 'certificates',
  all: 'all',
};

function view(section: Exclude<Section, 'all'>, dumps: readonly ZtunnelDump[], ns: string) {
  const merged = mergeDumps(dumps);
  const inNs = <T extends { namespace: string }>(xs: T[]): T[] =>
    ns ? xs.filter((x) => x.namespace === ns) : xs;
  switch (section) {
    case 'workloads': {
      const w = inNs(merged.workloads);
      return { table: workloadTable(w), raw: w.map((x) => x.raw) };
    }
    case 'services': {
      const s = inNs(merged.services);
      return { table: serviceTable(s, merged.workloads), raw: s.map((x) => x.raw) };
    }
    case 'policies': {
      const p = inNs(merged.policies);
      return { table: policyTable(p), raw: p.map((x) => x.raw) };
    }
    case 'certificates': {
      const certs: NodeCertificate[] = dumps.flatMap((d) =>
        d.certificates
          .filter((c) => !ns || c.identity.includes(`/ns/${ns}/`))
          .map((cert) => ({ node: d.node, cert })),
      );
      return {
        table: certificateTable(certs, dumps.length > 1),
        raw: certs.map((c) => ({ node: c.node, ...c.cert.raw })),
      };
    }
  }
}

function print(output: string, value: unknown): void {
  process.stdout.write(output === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value));
}

const render = (t: Table): string => formatTable(t.headers, t.rows);

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, SCHEMA, joinRepeatedFlag(argv, 'ztunnel-admin'));
  if (!args) return 0;
  const { config, rest } = args;
  const section = rest[0] ? SECTIONS[rest[0]] : undefined;
  if (!section || rest.length > 1) {
    const what = rest[0] && !section ? `unknown section "${rest[0]}"` : 'give one section';
    process.stderr.write(
      `error: ${what}: workloads, services, policies, certificates or all (see meshctl ztunnel-config --help)\n`,
    );
    return 2;
  }
  const results = await fetchDumps(discoverZtunnels(config), config.timeout);
  let failed = false;
  for (const r of results) {
    if (r.ok) continue;
    failed = true;
    process.stderr.write(`error: ${unreachableLine(r.admin, r.error)}\n`);
  }
  let dumps = results.flatMap((r) => (r.ok ? [r.dump] : []));
  if (config.node) {
    const answered = dumps;
    dumps = dumps.filter((d) => d.node === config.node);
    if (dumps.length === 0) {
      const seen = answered.map((d) => `${d.node || '?'} (${d.admin})`).join(', ') || 'none answered';
      process.stderr.write(
        `error: no ztunnel of node "${config.node}" among the admin addresses asked (nodes: ${seen}); ` +
          'check --node and --ztunnel-admin\n',
      );
      return 1;
    }
  }
  if (dumps.length === 0) return 1;

  if (section === 'all') {
    if (config.output !== 'table') {
      const raw = dumps.map((d) => d.raw);
      print(config.output, raw.length === 1 ? raw[0] : raw);
    } else {
      const parts = (['workloads', 'services', 'policies', 'certificates'] as const).map((s) =>
        render(view(s, dumps, config.namespace).table),
      );
      process.stdout.write(parts.join('\n'));
    }
  } else {
    const v = view(section, dumps, config.namespace);
    if (config.output !== 'table') print(config.output, v.raw);
    else process.stdout.write(render(v.table));
  }
  return failed ? 1 : 0;
}
