/**
 * Delta xDS server benchmark: istiod's push path at the scale of a mid-size cluster.
 *
 * Server (this process): 10,000 Workloads + 1,000 Services (istio.workload.Address) and 500
 * Authorization policies in the delta ADS server, default debounce (100 ms quiet, 10 s max).
 * Clients (a child process, so the server's memory is its own): 100 delta xDS clients, each on its own
 * HTTP/2 connection, wildcard-subscribed to both types. Clients keep the resource bytes without
 * decoding the workload messages (the server is what is measured; the envelope is still decoded).
 *
 * Measures: time until all clients hold the full initial state; then, 20 times, one pod changes and we
 * time apply() -> each client has it (including the debounce), with p50/p99 over the 20 changes of the
 * time until ALL clients have it; bytes per client for one pod's change; the server's heap/RSS growth.
 *
 * Run: `npx tsc -p . && node dist/bench/xds.js` (about 20-40 s). Env: XDS_BENCH_PODS, XDS_BENCH_CLIENTS,
 * XDS_BENCH_CHANGES. Prints a table and one JSON line; writes bench/results/xds.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createRegistry } from '../src/common/metrics.js';
import { DeltaXdsServer } from '../src/istiod/xds/delta-server.js';
import { ResourceStore } from '../src/istiod/xds/resource-store.js';
import { DeltaClient, type TypeWatch } from '../src/xds/delta-client.js';
import { formatNodeId } from '../src/xds/node-id.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../src/xds/type-urls.js';
import type { Address } from '../src/xds/workload-types.js';
import type { Authorization } from '../src/xds/security-types.js';

const PODS = Number(process.env.XDS_BENCH_PODS ?? 10_000);
const SERVICES = Math.max(1, Math.round(PODS / 10));
const POLICIES = Math.max(1, Math.round(PODS / 20));
const CLIENTS = Number(process.env.XDS_BENCH_CLIENTS ?? 100);
const CHANGES = Number(process.env.XDS_BENCH_CHANGES ?? 20);

type ToChild = { cmd: 'watch'; name: string; version: string } | { cmd: 'exit' };
type FromChild =
  | { ev: 'ready' }
  | { ev: 'synced'; atNs: string; cpuMs: number }
  | { ev: 'seen'; atNs: string[]; bytes: number[] };

// ---------------------------------------------------------------- clients (child process)

function runClients(port: number, expectAddresses: number, expectPolicies: number): void {
  const send = (m: FromChild): void => void process.send?.(m);
  let synced = 0;
  let watch: { name: string; version: string; atNs: string[]; bytes: number[]; left: number } | undefined;
  const clients: DeltaClient[] = [];
  const raw = (b: Uint8Array): Uint8Array => b;
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < CLIENTS; i++) {
    // The client itself keeps name -> version; the bench only counts.
    const state = { addr: 0, pol: 0, synced: false };
    const checkSynced = (): void => {
      if (!state.synced && state.addr === expectAddresses && state.pol === expectPolicies) {
        state.synced = true;
        if (++synced === CLIENTS) {
          const cpu = process.cpuUsage(cpuStart);
          send({
            ev: 'synced',
            atNs: process.hrtime.bigint().toString(),
            cpuMs: (cpu.user + cpu.system) / 1000,
          });
        }
      }
    };
    const addressWatch: TypeWatch<Uint8Array> = {
      typeUrl: ADDRESS_TYPE_URL,
      decode: raw,
      onUpdate: () => {
        state.addr = client.versions(ADDRESS_TYPE_URL).size;
        checkSynced();
      },
    };
    const policyWatch: TypeWatch<Uint8Array> = {
      typeUrl: AUTHORIZATION_TYPE_URL,
      decode: raw,
      onUpdate: (upserts, removals) => {
        state.pol += upserts.length - removals.length;
        checkSynced();
      },
    };
    const client = new DeltaClient({
      address: `127.0.0.1:${port}`,
      node: { id: formatNodeId('ztunnel', `10.1.0.${i}`, `ztunnel-${i}`, 'istio-system') },
      watches: [addressWatch as TypeWatch<unknown>, policyWatch as TypeWatch<unknown>],
      channelOptions: {
        'grpc.use_local_subchannel_pool': 1,
        'grpc-node.flow_control_window': 4 * 1024 * 1024,
      },
      onResponse: (e) => {
        const w = watch;
        if (!w || e.typeUrl !== ADDRESS_TYPE_URL || !e.upserted.includes(w.name)) return;
        if (client.versions(ADDRESS_TYPE_URL).get(w.name) !== w.version) return;
        w.atNs[i] = process.hrtime.bigint().toString();
        w.bytes[i] = e.byteLength;
        if (--w.left === 0) {
          watch = undefined;
          send({ ev: 'seen', atNs: w.atNs, bytes: w.bytes });
        }
      },
    });
    clients.push(client);
    client.start();
  }
  process.on('message', (m: ToChild) => {
    if (m.cmd === 'watch') {
      watch = { name: m.name, version: m.version, atNs: [], bytes: [], left: CLIENTS };
    } else {
      for (const c of clients) c.close();
      process.exit(0);
    }
  });
  send({ ev: 'ready' });
}

// ---------------------------------------------------------------- server (this process)

function ip(i: number, base: number): Uint8Array {
  return Uint8Array.of(10, base, (i >> 8) & 255, i & 255);
}

function podAddress(i: number, rev: number): Address {
  const svc = i % SERVICES;
  return {
    workload: {
      uid: `Kubernetes//Pod/ns-${svc % 50}/app-${i}`,
      name: `app-${i}-7d9f8c6b5-x2k4p`,
      namespace: `ns-${svc % 50}`,
      addresses: [ip(i, 244)],
      network: '',
      tunnelProtocol: 1,
      trustDomain: 'cluster.local',
      serviceAccount: `svc-${svc}`,
      node: `node-${i % 50}`,
      canonicalName: `svc-${svc}`,
      canonicalRevision: `v${rev}`,
      workloadType: 2,
      workloadName: `app-${i}`,
      services: {
        [`ns-${svc % 50}/svc-${svc}.ns-${svc % 50}.svc.cluster.local`]: {
          ports: [{ servicePort: 80, targetPort: 8080 }],
        },
      },
      status: 0,
      clusterId: 'Kubernetes',
      locality: { region: 'eu-west-1', zone: `eu-west-1${'abc'[i % 3]}` },
    },
  };
}

function serviceAddress(s: number): Address {
  const ns = `ns-${s % 50}`;
  return {
    service: {
      name: `svc-${s}`,
      namespace: ns,
      hostname: `svc-${s}.${ns}.svc.cluster.local`,
      addresses: [{ network: '', address: ip(s, 96) }],
      ports: [
        { servicePort: 80, targetPort: 8080 },
        { servicePort: 9090, targetPort: 9090 },
      ],
    },
  };
}

function policy(p: number): Authorization {
  return {
    name: `allow-${p}`,
    namespace: `ns-${p % 50}`,
    scope: 2,
    action: 0,
    groups: [
      {
        rules: [
          { matches: [{ principals: [{ exact: `cluster.local/ns/ns-${(p + 1) % 50}/sa/svc-${p}` }] }] },
          { matches: [{ destinationPorts: [8080] }] },
        ],
      },
    ],
  };
}

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
  const server = new DeltaXdsServer({ host: '127.0.0.1', port: 0, registry: createRegistry('istiod') });
  const port = await server.start();
  const memBase = mem();

  const loadStart = performance.now();
  const upserts: Array<{ name: string; message: object }> = [];
  for (let i = 0; i < PODS; i++) {
    const a = podAddress(i, 0);
    upserts.push({ name: a.workload?.uid ?? '', message: a });
  }
  for (let s = 0; s < SERVICES; s++) {
    const a = serviceAddress(s);
    upserts.push({ name: `${a.service?.namespace}/${a.service?.hostname}`, message: a });
  }
  server.apply(ADDRESS_TYPE_URL, { upserts, removals: [] });
  server.apply(AUTHORIZATION_TYPE_URL, {
    upserts: Array.from({ length: POLICIES }, (_, p) => ({
      name: `ns-${p % 50}/allow-${p}`,
      message: policy(p),
    })),
    removals: [],
  });
  server.flushNow();
  const loadMs = performance.now() - loadStart;
  const memLoaded = mem();

  const child: ChildProcess = fork(
    fileURLToPath(import.meta.url),
    ['--clients', String(port), String(PODS + SERVICES), String(POLICIES)],
    { execArgv: process.env.XDS_BENCH_CHILD_ARGS ? process.env.XDS_BENCH_CHILD_ARGS.split(' ') : [] },
  );
  let waiter: { resolve: (m: FromChild) => void; reject: (e: Error) => void } | undefined;
  child.on('message', (m: FromChild) => waiter?.resolve(m));
  child.on('exit', (code) => waiter?.reject(new Error(`client process exited (${code})`)));
  const next = (): Promise<FromChild> =>
    new Promise((resolve, reject) => {
      waiter = { resolve, reject };
    });
  const ready = await next();
  if (ready.ev !== 'ready') throw new Error('unexpected message from the client process');
  const syncStart = process.hrtime.bigint();
  const syncCpu = process.cpuUsage();
  const synced = await next();
  if (synced.ev !== 'synced') throw new Error('expected the sync report');
  const initialSyncMs = Number(BigInt(synced.atNs) - syncStart) / 1e6;
  const serverSyncCpu = process.cpuUsage(syncCpu);
  const initialSyncCpuMs = {
    server: Math.round((serverSyncCpu.user + serverSyncCpu.system) / 1000),
    clients: Math.round(synced.cpuMs),
  };
  const memSynced = mem();

  // Single-pod changes.
  const allClientsMs: number[] = [];
  const perClientMs: number[] = [];
  const bytesPerClient: number[] = [];
  for (let c = 1; c <= CHANGES; c++) {
    const pod = (c * 7919) % PODS;
    const a = podAddress(pod, c);
    const name = a.workload?.uid ?? '';
    // Learn the version the store will give it (content hash), then tell the clients what to expect.
    const version = expectVersion(name, a);
    child.send({ cmd: 'watch', name, version } satisfies ToChild);
    await new Promise((r) => setTimeout(r, 20));
    const started = process.hrtime.bigint();
    server.apply(ADDRESS_TYPE_URL, { upserts: [{ name, message: a }], removals: [] });
    const seen = await next();
    if (seen.ev !== 'seen') throw new Error('expected a change report');
    const times = seen.atNs.map((t) => Number(BigInt(t) - started) / 1e6);
    allClientsMs.push(Math.max(...times));
    perClientMs.push(...times);
    bytesPerClient.push(...seen.bytes);
    await new Promise((r) => setTimeout(r, 150));
  }
  const memAfter = mem();
  child.send({ cmd: 'exit' } satisfies ToChild);
  await server.stop(1000);

  allClientsMs.sort((x, y) => x - y);
  perClientMs.sort((x, y) => x - y);
  bytesPerClient.sort((x, y) => x - y);
  const round = (n: number): number => Math.round(n * 10) / 10;
  const result = {
    bench: 'xds',
    date: new Date().toISOString(),
    node: process.version,
    scale: { pods: PODS, services: SERVICES, policies: POLICIES, clients: CLIENTS, changes: CHANGES },
    debounce: { quietMs: 100, maxMs: 10_000 },
    storeLoadMs: round(loadMs),
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

  const rows: Array<[string, string]> = [
    ['scale', `${PODS} pods, ${SERVICES} services, ${POLICIES} policies, ${CLIENTS} clients`],
    ['machine load (1 min avg)', `${result.loadAverage.before} -> ${result.loadAverage.after}`],
    ['store load (encode once)', `${result.storeLoadMs} ms`],
    [
      'initial sync, all clients',
      `${result.initialSyncMs} ms (goal < 3000); CPU server ${initialSyncCpuMs.server} ms, clients ${initialSyncCpuMs.clients} ms`,
    ],
    [
      'one pod change -> all clients',
      `p50 ${result.singleChangeAllClientsMs.p50} ms, p99 ${result.singleChangeAllClientsMs.p99} ms (goal p99 < 250, incl. 100 ms debounce)`,
    ],
    [
      'one pod change -> a client',
      `p50 ${result.singleChangePerClientMs.p50} ms, p99 ${result.singleChangePerClientMs.p99} ms`,
    ],
    [
      'bytes per client, one pod',
      `${result.bytesPerClientForOnePodChange.p50} B (max ${result.bytesPerClientForOnePodChange.max})`,
    ],
    [
      'server heap / RSS growth',
      `loaded +${result.serverMemoryMB.resourcesLoaded.heapUsedDelta}/+${result.serverMemoryMB.resourcesLoaded.rssDelta} MB, ` +
        `synced +${result.serverMemoryMB.clientsSynced.heapUsedDelta}/+${result.serverMemoryMB.clientsSynced.rssDelta} MB, ` +
        `after changes +${result.serverMemoryMB.afterChanges.heapUsedDelta}/+${result.serverMemoryMB.afterChanges.rssDelta} MB`,
    ],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log(JSON.stringify(result));
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results', 'xds.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
}

/** The version the store will assign to this content (same hash as the store's). */
function expectVersion(name: string, message: object): string {
  const probe = new ResourceStore(ADDRESS_TYPE_URL);
  probe.apply({ upserts: [{ name, message }], removals: [] });
  return probe.get(name)?.version ?? '';
}

if (process.argv[2] === '--clients') {
  runClients(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
