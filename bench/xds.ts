/**
 * Delta xDS benchmark: istiod's push path at the scale of a mid-size cluster.
 *
 * Server (this process), default mode `index`: the whole istiod (`Istiod`) fed with synthetic
 * configuration objects (50 ambient namespaces, 10,000 pods on 50 nodes, 1,000 Services, 500
 * AuthorizationPolicies) through an in-memory ConfigSource, so figures include the ConfigStore, the
 * ambient index computing every resource, and encoding. Mode `resources` (XDS_BENCH_SERVER=resources):
 * the delta xDS server alone with pre-built resources. Default debounce (100 ms quiet, 10 s max).
 *
 * Clients: 100 delta xDS clients spread over 2 child processes (the machine has 2 cores), each on its
 * own HTTP/2 connection, wildcard-subscribed to both types, ACKing every response. By default they read
 * responses lazily (names, versions, nonce; payloads never decoded; see bench/xds/clients.ts);
 * XDS_BENCH_CLIENT_DECODE=envelope uses the project's DeltaClient (protobufjs decode of the envelope).
 *
 * Measures: time until all clients hold the full initial state (from the moment they are told to
 * connect); then, 20 times, one pod changes and we time the change -> each client has it (including
 * the debounce), p50/p99 over the 20 changes of the time until ALL clients have it; bytes per client
 * for one pod's change; the server's heap/RSS growth.
 *
 * Run: `npx tsc -p . && node dist/bench/xds.js` (about 20-40 s). Env: XDS_BENCH_PODS, XDS_BENCH_CLIENTS,
 * XDS_BENCH_CHANGES, XDS_BENCH_PROCS (client processes, default 2), XDS_BENCH_SERVER (index|resources),
 * XDS_BENCH_CLIENT_DECODE (lazy|envelope). Prints a table and one JSON line; writes
 * bench/results/xds.json (default settings only; XDS_BENCH_OUT=FILE to write elsewhere).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ChildLink } from './xds/child-link.js';
import type { ClientMode } from './xds/clients.js';
import { startServer, type ServerMode } from './xds/servers.js';

const PODS = Number(process.env.XDS_BENCH_PODS ?? 10_000);
const SCALE = {
  pods: PODS,
  services: Math.max(1, Math.round(PODS / 10)),
  policies: Math.max(1, Math.round(PODS / 20)),
};
const CLIENTS = Number(process.env.XDS_BENCH_CLIENTS ?? 100);
const CHANGES = Number(process.env.XDS_BENCH_CHANGES ?? 20);
const PROCS = Math.max(1, Math.min(CLIENTS, Number(process.env.XDS_BENCH_PROCS ?? 2)));
const SERVER_MODE: ServerMode = process.env.XDS_BENCH_SERVER === 'resources' ? 'resources' : 'index';
const CLIENT_MODE: ClientMode = process.env.XDS_BENCH_CLIENT_DECODE === 'envelope' ? 'envelope' : 'lazy';
const IS_DEFAULT =
  !process.env.XDS_BENCH_PODS &&
  !process.env.XDS_BENCH_CLIENTS &&
  !process.env.XDS_BENCH_PROCS &&
  !process.env.XDS_BENCH_SERVER &&
  !process.env.XDS_BENCH_CLIENT_DECODE;

const CLIENTS_DO: Record<ClientMode, string> = {
  lazy: 'read each response lazily: type URL, nonce, resource names and versions (payloads never decoded); ACK each',
  envelope: 'DeltaClient: protobufjs decode of each response envelope (payloads kept as bytes); ACK each',
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, idx)] ?? NaN;
}

function gcNow(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (() => void) | undefined;
  gc?.();
  gc?.();
}

function mem(): { heapUsedMB: number; rssMB: number } {
  gcNow();
  const m = process.memoryUsage();
  return { heapUsedMB: m.heapUsed / 2 ** 20, rssMB: m.rss / 2 ** 20 };
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const loadBefore = loadavg()[0] ?? 0;
  const memBase = mem();
  const server = await startServer(SERVER_MODE, SCALE);
  const memLoaded = mem();

  const script = join(dirname(fileURLToPath(import.meta.url)), 'xds', 'clients.js');
  const links: ChildLink[] = [];
  for (let p = 0; p < PROCS; p++) {
    const first = Math.floor((p * CLIENTS) / PROCS);
    const count = Math.floor(((p + 1) * CLIENTS) / PROCS) - first;
    const args = [server.port, first, count, server.addresses, server.policies, CLIENT_MODE].map(String);
    links.push(new ChildLink(script, ['--clients', ...args]));
  }
  await Promise.all(links.map((l) => l.next('ready')));
  const syncStart = process.hrtime.bigint();
  const syncCpu = process.cpuUsage();
  for (const l of links) l.send({ cmd: 'go' });
  const syncs = await Promise.all(links.map((l) => l.next('synced')));
  const initialSyncMs = Math.max(...syncs.map((s) => Number(BigInt(s.atNs) - syncStart) / 1e6));
  const serverSyncCpu = process.cpuUsage(syncCpu);
  const initialSyncCpuMs = {
    server: Math.round((serverSyncCpu.user + serverSyncCpu.system) / 1000),
    clients: Math.round(syncs.reduce((a, s) => a + s.cpuMs, 0)),
  };
  const memSynced = mem();

  // Single-pod changes.
  const allClientsMs: number[] = [];
  const perClientMs: number[] = [];
  const bytesPerClient: number[] = [];
  for (let c = 1; c <= CHANGES; c++) {
    const pod = (c * 7919) % PODS;
    const name = server.changePod(pod, c);
    const started = process.hrtime.bigint();
    // The push waits for the debounce (100 ms), so arming the clients right after the change is in time.
    for (const l of links) l.send({ cmd: 'watch', name });
    await Promise.all(links.map((l) => l.next('armed')));
    const seen = await Promise.all(links.map((l) => l.next('seen')));
    const times = seen.flatMap((s) => s.atNs.map((t) => Number(BigInt(t) - started) / 1e6));
    allClientsMs.push(Math.max(...times));
    perClientMs.push(...times);
    bytesPerClient.push(...seen.flatMap((s) => s.bytes));
    await new Promise((r) => setTimeout(r, 150));
  }
  const memAfter = mem();
  for (const l of links) l.send({ cmd: 'exit' });
  await server.stop();

  allClientsMs.sort((x, y) => x - y);
  perClientMs.sort((x, y) => x - y);
  bytesPerClient.sort((x, y) => x - y);
  const round = (n: number): number => Math.round(n * 10) / 10;
  const result = {
    bench: 'xds',
    date: new Date().toISOString(),
    node: process.version,
    scale: { ...SCALE, clients: CLIENTS, changes: CHANGES },
    server: SERVER_MODE,
    clientProcesses: PROCS,
    clientsDo: CLIENTS_DO[CLIENT_MODE],
    debounce: { quietMs: 100, maxMs: 10_000 },
    loadMs: round(server.loadMs),
    indexBuildMs: server.indexBuildMs === undefined ? undefined : round(server.indexBuildMs),
    encodeMs: server.encodeMs === undefined ? undefined : round(server.encodeMs),
    initialSyncMs: round(initialSyncMs),
    initialSyncCpuMs,
    singleChangeAllClientsMs: {
      p50: round(percentile(allClientsMs, 50)),
      p99: round(percentile(allClientsMs, 99)),
      max: round(allClientsMs.at(-1) ?? NaN),
    },
    singleChangePerClientMs: {
      p50: round(percentile(perClientMs, 50)),
      p99: round(percentile(perClientMs, 99)),
    },
    bytesPerClientForOnePodChange: {
      p50: percentile(bytesPerClient, 50),
      max: bytesPerClient.at(-1) ?? NaN,
    },
    serverMemoryMB: {
      base: { heapUsed: round(memBase.heapUsedMB), rss: round(memBase.rssMB) },
      resourcesLoaded: {
        heapUsedDelta: round(memLoaded.heapUsedMB - memBase.heapUsedMB),
        rssDelta: round(memLoaded.rssMB - memBase.rssMB),
      },
      clientsSynced: {
        heapUsedDelta: round(memSynced.heapUsedMB - memBase.heapUsedMB),
        rssDelta: round(memSynced.rssMB - memBase.rssMB),
      },
      afterChanges: {
        heapUsedDelta: round(memAfter.heapUsedMB - memBase.heapUsedMB),
        rssDelta: round(memAfter.rssMB - memBase.rssMB),
      },
    },
    goals: {
      singleChangeAllClientsP99Under250ms: percentile(allClientsMs, 99) < 250,
      initialSyncUnder3s: initialSyncMs < 3000,
      onePodDeltaUnder1KB: (bytesPerClient.at(-1) ?? Infinity) < 1024,
    },
    runSeconds: round((Date.now() - t0) / 1000),
    // 1-minute load average of the machine before and after: wall-clock figures mean little when it
    // exceeds the core count (CPU figures still do).
    loadAverage: { before: round(loadBefore), after: round(loadavg()[0] ?? 0) },
  };
  printTable(result);
  console.log(JSON.stringify(result));
  const out =
    process.env.XDS_BENCH_OUT ??
    (IS_DEFAULT
      ? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', 'xds.json')
      : undefined);
  if (out) {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  }
}

function printTable(r: {
  server: string;
  clientProcesses: number;
  clientsDo: string;
  loadMs: number;
  indexBuildMs?: number;
  encodeMs?: number;
  initialSyncMs: number;
  initialSyncCpuMs: { server: number; clients: number };
  singleChangeAllClientsMs: { p50: number; p99: number };
  singleChangePerClientMs: { p50: number; p99: number };
  bytesPerClientForOnePodChange: { p50: number; max: number };
  serverMemoryMB: Record<
    string,
    { heapUsedDelta?: number; rssDelta?: number; heapUsed?: number; rss?: number }
  >;
  loadAverage: { before: number; after: number };
}): void {
  const mb = r.serverMemoryMB;
  const serverText =
    r.server === 'index'
      ? 'istiod (config objects -> ConfigStore -> AmbientIndex -> delta xDS)'
      : 'delta xDS server alone, pre-built resources';
  const rows: Array<[string, string]> = [
    [
      'scale',
      `${SCALE.pods} pods, ${SCALE.services} services, ${SCALE.policies} policies, ${CLIENTS} clients`,
    ],
    ['server', serverText],
    ['clients', `${r.clientProcesses} processes; ${r.clientsDo}`],
    ['machine load (1 min avg)', `${r.loadAverage.before} -> ${r.loadAverage.after}`],
    [
      'initial state ready',
      `${r.loadMs.toFixed(1)} ms` +
        (r.indexBuildMs !== undefined
          ? ` (index ${r.indexBuildMs} ms, encode ${r.encodeMs} ms, rest: source and store)`
          : ' (encode once)'),
    ],
    [
      'initial sync, all clients',
      `${r.initialSyncMs} ms (goal < 3000); CPU server ${r.initialSyncCpuMs.server} ms, clients ${r.initialSyncCpuMs.clients} ms`,
    ],
    [
      'one pod change -> all clients',
      `p50 ${r.singleChangeAllClientsMs.p50} ms, p99 ${r.singleChangeAllClientsMs.p99} ms (goal p99 < 250, incl. 100 ms debounce)`,
    ],
    [
      'one pod change -> a client',
      `p50 ${r.singleChangePerClientMs.p50} ms, p99 ${r.singleChangePerClientMs.p99} ms`,
    ],
    [
      'bytes per client, one pod',
      `${r.bytesPerClientForOnePodChange.p50} B (max ${r.bytesPerClientForOnePodChange.max})`,
    ],
    [
      'server heap / RSS growth',
      `loaded +${mb.resourcesLoaded?.heapUsedDelta}/+${mb.resourcesLoaded?.rssDelta} MB, ` +
        `synced +${mb.clientsSynced?.heapUsedDelta}/+${mb.clientsSynced?.rssDelta} MB, ` +
        `after changes +${mb.afterChanges?.heapUsedDelta}/+${mb.afterChanges?.rssDelta} MB`,
    ],
  ];
  const width = Math.max(...rows.map((row) => row[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
