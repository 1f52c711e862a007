import { stringify } from 'yaml';
import { parsers } from '../../common/config.js';
import { errorMessage } from '../../common/errors.js';
import { formatEndpoint, httpGetJson, httpGetText, type Endpoint } from '../admin-client.js';
import {
  ISTIOD_MONITORING_OPTION,
  TIMEOUT_OPTION,
  discoverIstiods,
  joinRepeatedFlag,
} from '../mesh-endpoints.js';
import { parseCommand } from '../options.js';
import { buildVersion, joinSyncViews, proxyStatusTable, type IstiodStatus } from '../proxy-status-table.js';
import { formatTable } from '../text-table.js';

const USAGE = `Usage: meshctl proxy-status [NAME] [--istiod HOST:PORT] [-o table|json|yaml]

Lists the proxies connected to istiod (ztunnels, waypoints) and whether each holds everything istiod
has for it (SYNCED) or still has updates queued (STALE), as istioctl proxy-status does. Read from
istiod's monitoring port (/debug/syncz, /debug/adsz, /metrics). NAME keeps the proxies whose name
contains it.`;

const SCHEMA = {
  istiod: ISTIOD_MONITORING_OPTION,
  output: {
    flag: 'output',
    doc: 'output format (-o): table, json or yaml',
    default: 'table',
    parse: parsers.oneOf('table', 'json', 'yaml'),
  },
  timeout: TIMEOUT_OPTION,
};

async function readIstiod(e: Endpoint, timeoutMs: number): Promise<IstiodStatus> {
  const [syncz, adsz, metrics] = await Promise.all([
    httpGetJson(e, '/debug/syncz', timeoutMs),
    // adsz and /metrics only add columns: without them the sync state still prints.
    httpGetJson(e, '/debug/adsz', timeoutMs).catch(() => undefined),
    httpGetText(e, '/metrics', timeoutMs).catch(() => ''),
  ]);
  return { istiod: formatEndpoint(e), version: buildVersion(metrics), proxies: joinSyncViews(syncz, adsz) };
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, SCHEMA, joinRepeatedFlag(argv, 'istiod'));
  if (!args) return 0;
  const { config, rest } = args;
  if (rest.length > 1) {
    process.stderr.write('error: give at most one proxy NAME (see meshctl proxy-status --help)\n');
    return 2;
  }
  const endpoints = discoverIstiods(config);
  const results = await Promise.all(
    endpoints.map((e) =>
      readIstiod(e, config.timeout).then(
        (status) => ({ ok: true as const, status }),
        (err: unknown) => ({ ok: false as const, at: formatEndpoint(e), error: errorMessage(err) }),
      ),
    ),
  );
  const statuses: IstiodStatus[] = [];
  for (const r of results) {
    if (r.ok) statuses.push(r.status);
    else
      process.stderr.write(
        `error: cannot read istiod monitoring at ${r.at} (${r.error}); is istiod running, and is --istiod ` +
          '(or MESH_ISTIOD_MONITORING) its monitoring address (port 15014)?\n',
      );
  }
  const failed = statuses.length < results.length;
  if (statuses.length === 0) return 1;
  const name = rest[0] ?? '';
  if (config.output !== 'table') {
    const value = statuses.map((s) => ({
      ...s,
      proxies: s.proxies.filter((p) => !name || p.proxy.includes(name)),
    }));
    process.stdout.write(config.output === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value));
  } else {
    const t = proxyStatusTable(statuses, name);
    process.stdout.write(formatTable(t.headers, t.rows, { gap: 5 }));
  }
  return failed ? 1 : 0;
}
