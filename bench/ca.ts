/**
 * The CA's signing throughput and a node proxy's time to certificates, on one core:
 *   1. in-process sign path: CaService.createCertificate (authenticate, authorize, parse + verify the
 *      CSR, sign) with CSRs made beforehand, and IstiodCa.sign alone;
 *   2. the real gRPC call: IstioCertificateService/CreateCertificate over loopback, 64 calls in flight,
 *      client and server in this process (so the figure includes the client's gRPC work too);
 *   3. a node proxy's CertificateManager obtaining certificates for 100 new identities at once
 *      (key generation, CSR, gRPC call, checks), with its default 8 concurrent fetches and with 32.
 * Goals: ≥ 2,000 signatures/s; 100 identities ready in < 1 s.
 *
 * Run: `npx tsc -p . && node dist/bench/ca.js` (about 20 s). Re-runs itself pinned to CPU 0 with
 * `taskset` when available. Prints a table and writes bench/results/ca.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { CaService } from '../src/istiod/ca/ca-service.js';
import { IstiodCa } from '../src/istiod/ca/istiod-ca.js';
import { NodeIdentities } from '../src/istiod/ca/node-identity-lookup.js';
import type { AuthnResult, TokenAuthenticator } from '../src/istiod/ca/token-authenticator.js';
import { CertificateManager } from '../src/identity/certificate-manager.js';
import { IdentityCaClient } from '../src/identity/ca-client.js';
import { createRootCa } from '../src/pki/ca.js';
import { createCsr } from '../src/pki/csr.js';
import { generateKeyPair } from '../src/pki/keys.js';
import type { SpiffeId } from '../src/pki/spiffe.js';
import { CaClient } from '../src/xds/grpc-services.js';
import type { IstioCertificateRequest, IstioCertificateResponse } from '../src/xds/discovery-types.js';

const RUN_MS = Number(process.env.CA_BENCH_MS ?? 3000);
const ZT: SpiffeId = { trustDomain: 'cluster.local', namespace: 'istio-system', serviceAccount: 'ztunnel' };
const sid = (sa: string): SpiffeId => ({
  trustDomain: 'cluster.local',
  namespace: 'bench',
  serviceAccount: sa,
});
const uri = (sa: string) => `spiffe://cluster.local/ns/bench/sa/${sa}`;

interface Row {
  case: string;
  value: number;
  unit: string;
  goal?: string;
  met?: boolean;
  detail?: string;
}

/** Node tokens as a table lookup: the bench measures signing, not token files. */
class BenchTokens implements TokenAuthenticator {
  readonly name = 'bench';
  authenticate(token: string): Promise<AuthnResult> {
    return Promise.resolve(
      token === 'node1'
        ? { ok: true, caller: { identity: ZT, node: 'node1', via: 'local-token' } }
        : { ok: false, code: grpc.status.UNAUTHENTICATED, reason: 'unknown_token', message: 'unknown' },
    );
  }
}

function requests(n: number, identities: number): IstioCertificateRequest[] {
  const out: IstioCertificateRequest[] = [];
  for (let i = 0; i < n; i++) {
    const sa = `sa${i % identities}`;
    const { privateKey, publicKey } = generateKeyPair();
    out.push({
      csr: createCsr({ privateKey, publicKey, uris: [uri(sa)] }),
      metadata: { fields: { ImpersonatedIdentity: { stringValue: uri(sa) } } },
    });
  }
  return out;
}

async function inProcess(service: CaService, ca: IstiodCa, reqs: IstioCertificateRequest[]): Promise<Row[]> {
  const md = new grpc.Metadata();
  md.set('authorization', 'Bearer node1');
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < RUN_MS) {
    const r = await service.createCertificate(reqs[n % reqs.length] as IstioCertificateRequest, {
      metadata: md,
    });
    if (!r.ok) throw new Error(r.message);
    n++;
  }
  const full = n / ((performance.now() - t0) / 1000);
  const { publicKey } = generateKeyPair();
  let m = 0;
  const t1 = performance.now();
  while (performance.now() - t1 < RUN_MS / 2) {
    ca.sign(publicKey, sid('sa0'), 86400e3);
    m++;
  }
  const signOnly = m / ((performance.now() - t1) / 1000);
  return [
    {
      case: 'CA in-process: CreateCertificate logic (authn, authz, CSR parse+verify, sign)',
      value: full,
      unit: 'CSR/s',
      goal: '>= 2000',
      met: full >= 2000,
    },
    { case: 'CA in-process: IstiodCa.sign alone', value: signOnly, unit: 'sig/s' },
  ];
}

interface GrpcRun {
  rate: number;
  done: number;
  seconds: number;
}

/** 64 CreateCertificate calls in flight for RUN_MS; `onStart` runs after the warm-up. */
async function overGrpc(
  port: number,
  reqs: IstioCertificateRequest[],
  onStart?: () => void,
): Promise<GrpcRun> {
  const client = new CaClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as grpc.Client;
  const call = client as unknown as {
    CreateCertificate(
      r: IstioCertificateRequest,
      md: grpc.Metadata,
      cb: (e: grpc.ServiceError | null, v?: IstioCertificateResponse) => void,
    ): void;
  };
  const md = new grpc.Metadata();
  md.set('authorization', 'Bearer node1');
  const one = (i: number) =>
    new Promise<void>((resolve, reject) =>
      call.CreateCertificate(reqs[i % reqs.length] as IstioCertificateRequest, md, (e) =>
        e ? reject(e) : resolve(),
      ),
    );
  await Promise.all(Array.from({ length: 64 }, (_, i) => one(i))); // warm-up
  let done = 0;
  let next = 0;
  onStart?.();
  const t0 = performance.now();
  const worker = async () => {
    while (performance.now() - t0 < RUN_MS) {
      await one(next++);
      done++;
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const seconds = (performance.now() - t0) / 1000;
  client.close();
  return { rate: done / seconds, done, seconds };
}

async function manager100(port: number, concurrency: number, round: number): Promise<Row> {
  const fetcher = new IdentityCaClient({ address: `127.0.0.1:${port}`, token: 'node1', ownIdentity: ZT });
  const m = new CertificateManager({ fetcher, concurrency });
  // One warm-up identity so the channel is connected, as a running ztunnel's would be.
  await m.get(sid(`warm-${round}`));
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 100 }, (_, i) => m.get(sid(`r${round}-id${i}`))));
  const ms = performance.now() - t0;
  m.close();
  fetcher.close();
  return {
    case: `node proxy: 100 new identities at once (concurrency ${concurrency})`,
    value: ms,
    unit: 'ms',
    goal: '< 1000',
    met: ms < 1000,
  };
}

function table(rows: Row[]): string {
  const lines = rows.map((r) =>
    [
      r.case.padEnd(82),
      `${r.value.toFixed(0).padStart(7)} ${r.unit.padEnd(6)}`,
      (r.goal ?? '').padEnd(8),
      r.met === undefined ? '' : r.met ? 'met' : 'NOT met',
      r.detail ?? '',
    ].join('  '),
  );
  return [`${'case'.padEnd(82)}  ${'result'.padStart(14)}  goal`, ...lines].join('\n');
}

/**
 * Child role: the CA alone in its own process (pinned to CPU 0). Prints its port; a line on stdin starts
 * the CPU count; at the end of stdin it prints the CPU seconds used since, and exits.
 */
async function serveOnly(): Promise<void> {
  const { service } = setup();
  const server = new grpc.Server();
  service.register(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  process.stdout.write(`${port}\n`);
  let mark = process.cpuUsage();
  process.stdin.on('data', () => (mark = process.cpuUsage()));
  process.stdin.on('end', () => {
    const u = process.cpuUsage(mark);
    process.stdout.write(`${(u.user + u.system) / 1e6}\n`, () => server.forceShutdown());
  });
}

function setup(): { ca: IstiodCa; service: CaService } {
  const ca = IstiodCa.fromAuthority(createRootCa());
  const nodes = new NodeIdentities();
  for (let i = 0; i < 1000; i++) nodes.set(`p${i}`, 'node1', sid(`sa${i}`));
  return { ca, service: new CaService({ ca, nodes, authenticators: [new BenchTokens()] }) };
}

/** The CA in a child process on CPU 0, the load from this process on CPU 1. */
async function splitGrpc(reqs: IstioCertificateRequest[]): Promise<Row[]> {
  if (cpus().length < 2 || spawnSync('taskset', ['-c', '1', 'true']).status !== 0) return [];
  const { spawn } = await import('node:child_process');
  const child = spawn('taskset', ['-c', '0', process.execPath, fileURLToPath(import.meta.url)], {
    env: { ...process.env, CA_BENCH_ROLE: 'server', UV_THREADPOOL_SIZE: '1' },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  child.stdout.on('data', (d: Buffer) => {
    lines.push(...d.toString().trim().split('\n'));
    wake?.();
  });
  const line = async (n: number): Promise<string> => {
    while (lines.length < n) await new Promise<void>((r) => (wake = r));
    return lines[n - 1] as string;
  };
  const port = Number(await line(1));
  spawnSync('taskset', ['-p', '-c', '1', String(process.pid)]);
  const r = await overGrpc(port, reqs, () => child.stdin.write('mark\n'));
  child.stdin.end();
  const cpuSeconds = Number(await line(2));
  const perCpu = r.done / cpuSeconds;
  return [
    {
      case: 'CA over gRPC, CA alone on CPU 0, load from CPU 1: wall-clock',
      value: r.rate,
      unit: 'CSR/s',
      detail: `CA busy ${((cpuSeconds / r.seconds) * 100).toFixed(0)} % of a CPU`,
    },
    {
      case: 'CA over gRPC, same run: per CPU-second of the CA process',
      value: perCpu,
      unit: 'CSR/s',
      goal: '>= 2000',
      met: perCpu >= 2000,
    },
  ];
}

async function main(): Promise<void> {
  if (process.env.CA_BENCH_ROLE === 'server') return serveOnly();
  if (!process.env.CA_BENCH_PINNED) {
    if (spawnSync('taskset', ['-c', '0', 'true']).status === 0) {
      const res = spawnSync('taskset', ['-c', '0', process.execPath, fileURLToPath(import.meta.url)], {
        stdio: 'inherit',
        env: { ...process.env, CA_BENCH_PINNED: '1', UV_THREADPOOL_SIZE: '1' },
      });
      process.exit(res.status ?? 1);
    }
    console.error('taskset not available: running unpinned');
  }
  const ca = IstiodCa.fromAuthority(createRootCa());
  const nodes = new NodeIdentities();
  for (let i = 0; i < 1000; i++) nodes.set(`p${i}`, 'node1', sid(`sa${i}`));
  for (let r = 0; r < 3; r++) {
    nodes.set(`warm-${r}`, 'node1', sid(`warm-${r}`));
    for (let i = 0; i < 100; i++) nodes.set(`r${r}-${i}`, 'node1', sid(`r${r}-id${i}`));
  }
  const service = new CaService({ ca, nodes, authenticators: [new BenchTokens()] });
  const reqs = requests(2000, 1000);
  const rows: Row[] = [];
  rows.push(...(await inProcess(service, ca, reqs)));

  const server = new grpc.Server();
  service.register(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const same = await overGrpc(port, reqs);
  rows.push({
    case: 'CA over gRPC loopback (64 in flight, client in the same process)',
    value: same.rate,
    unit: 'CSR/s',
    goal: '>= 2000',
    met: same.rate >= 2000,
  });
  rows.push(await manager100(port, 8, 0));
  rows.push(await manager100(port, 32, 1));
  server.forceShutdown();
  rows.push(...(await splitGrpc(reqs)));

  const out = {
    bench: 'ca',
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    pinnedToOneCpu: Boolean(process.env.CA_BENCH_PINNED),
    loadavg: loadavg(),
    runMs: RUN_MS,
    results: rows,
  };
  console.log(
    `CA benchmark, node ${process.version}, pinned to one CPU: ${out.pinnedToOneCpu ? 'yes' : 'no'}, load ${loadavg()[0]?.toFixed(2)}`,
  );
  console.log(table(rows));
  const here = dirname(fileURLToPath(import.meta.url));
  const file = join(here, '..', '..', 'bench', 'results', 'ca.json');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(out, null, 2) + '\n');
  console.log(JSON.stringify(out));
}

await main();
