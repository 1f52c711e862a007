/**
 * Cost of L7 policy at the waypoint's engine: CPU per request of the engine process at a fixed
 * 1000 req/s (GET, keep-alive, 8 connections) with no policy, 10 L7 rules, 1,000 L7 rules and JWT
 * validation, variants interleaved over rounds (median reported). Goal: 1,000 rules cost under 5 % more
 * CPU per request than none.
 *
 * Run: `npx tsc -p . && node dist/bench/l7-policy/run.js [--rounds 3] [--seconds 5] [--out FILE]`
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { compileAuthz } from '../../src/l7/security/authz-compile.js';
import { decideAuthz, type AuthzAttributes } from '../../src/l7/security/authz-decide.js';
import { JwksCache } from '../../src/l7/security/jwks-cache.js';
import { compileJwt, verifyRequest } from '../../src/l7/security/jwt-verify.js';
import { silentLogger } from '../../src/common/logger.js';
import { ISSUER, VARIANTS, rules, type Variant } from './variants.js';

const arg = (name: string, dflt: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const ROUNDS = Number(arg('rounds', '3'));
const SECONDS = Number(arg('seconds', '5'));
const RATE = Number(arg('rate', '1000'));
const OUT = arg('out', '');

interface Child {
  proc: ChildProcess;
  port: number;
  next(): Promise<string>;
}

function start(variant: Variant, backend: number, jwks: string): Promise<Child> {
  const proc = spawn(
    process.execPath,
    [fileURLToPath(new URL('./child.js', import.meta.url)), variant, String(backend), jwks],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  let buf = '';
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  const next = (): Promise<string> =>
    lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiting.push(r));
  return next().then((p) => ({ proc, port: Number(p), next }));
}

async function cpu(c: Child): Promise<number> {
  c.proc.stdin!.write('cpu\n');
  return Number(await c.next());
}

/** Open-loop load at RATE for `seconds`: returns completed, errors and non-200 answers. */
async function load(
  port: number,
  seconds: number,
  headers: Record<string, string>,
): Promise<{ ok: number; bad: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let ok = 0;
  let bad = 0;
  const total = Math.round(RATE * seconds);
  const start = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(
      new Promise<void>((resolve) => {
        const req = http.get(
          {
            host: '127.0.0.1',
            port,
            path: '/reviews/0',
            agent,
            headers: { host: 'reviews:9080', ...headers },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) ok++;
              else bad++;
              resolve();
            });
          },
        );
        req.on('error', () => {
          bad++;
          resolve();
        });
      }),
    );
    if (inflight.length > 2000) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  agent.destroy();
  return { ok, bad };
}

/** The filters' own cost, without the proxy around them: µs per decide / per token check. */
async function micro(jwks: string, token: string, other: string): Promise<Record<string, number>> {
  const attrs = (): AuthzAttributes => ({
    sourceIp: '10.244.1.5',
    remoteIp: '10.244.1.5',
    sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/curl',
    destinationIp: '10.96.0.10',
    destinationPort: 9080,
    method: 'GET',
    path: '/reviews/0',
    authority: 'reviews:9080',
    header: () => undefined,
  });
  const out: Record<string, number> = {};
  for (const n of [10, 1000]) {
    const c = compileAuthz(rules(n));
    for (let i = 0; i < 20_000; i++) decideAuthz(attrs(), c);
    const t = performance.now();
    for (let i = 0; i < 100_000; i++)
      if (!decideAuthz(attrs(), c).allow) throw new Error('bench rules must allow');
    out[`decide_${n}_rules_us`] = Number((((performance.now() - t) * 1000) / 100_000).toFixed(2));
  }
  const cache = new JwksCache({ log: silentLogger() });
  const jwt = compileJwt([{ source: 'bench', issuer: ISSUER, audiences: ['bookinfo'], jwks }])!;
  const hdr = (t: string) => (n: string) => (n === 'authorization' ? `Bearer ${t}` : undefined);
  for (let i = 0; i < 2000; i++) await verifyRequest(jwt, hdr(token), '', cache); // warm-up
  let t = performance.now();
  for (let i = 0; i < 20_000; i++)
    if ((await verifyRequest(jwt, hdr(token), '', cache)).kind !== 'ok') throw new Error('token');
  out.jwt_cached_us = Number((((performance.now() - t) * 1000) / 20_000).toFixed(2));
  // The verified-token cache emptied before each check: the RS256 signature is checked every time.
  t = performance.now();
  for (let i = 0; i < 500; i++) {
    jwt.verified.clear();
    if ((await verifyRequest(jwt, hdr(i % 2 ? token : other), '', cache)).kind !== 'ok')
      throw new Error('token');
  }
  out.jwt_rs256_verify_us = Number((((performance.now() - t) * 1000) / 500).toFixed(2));
  cache.close();
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const backend = http.createServer((_req, res) =>
    res.writeHead(200, { 'content-type': 'text/plain' }).end('reviews'),
  );
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const backendPort = (backend.address() as AddressInfo).port;
  const kp = await generateKeyPair('RS256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(kp.publicKey)), kid: 'b', alg: 'RS256' }] });
  const token = await new SignJWT({ sub: 'jason', aud: 'bookinfo' })
    .setProtectedHeader({ alg: 'RS256', kid: 'b' })
    .setIssuer(ISSUER)
    .setExpirationTime('2h')
    .sign(kp.privateKey);
  const other = await new SignJWT({ sub: 'other', aud: 'bookinfo' })
    .setProtectedHeader({ alg: 'RS256', kid: 'b' })
    .setIssuer(ISSUER)
    .setExpirationTime('2h')
    .sign(kp.privateKey);
  const filters = await micro(jwks, token, other);
  process.stderr.write(`filters alone: ${JSON.stringify(filters)}\n`);
  const results: Record<string, number[]> = Object.fromEntries(VARIANTS.map((v) => [v, []]));
  const errors: Record<string, number> = Object.fromEntries(VARIANTS.map((v) => [v, 0]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = [...VARIANTS.slice(round % VARIANTS.length), ...VARIANTS.slice(0, round % VARIANTS.length)];
    for (const v of order) {
      const c = await start(v, backendPort, jwks);
      const headers: Record<string, string> = v === 'jwt' ? { authorization: `Bearer ${token}` } : {};
      await load(c.port, 1, headers); // warm-up (JIT, pools)
      const before = await cpu(c);
      const r = await load(c.port, SECONDS, headers);
      const used = (await cpu(c)) - before;
      c.proc.stdin!.write('exit\n');
      await new Promise((res) => c.proc.once('exit', res));
      results[v]!.push(used / Math.max(1, r.ok));
      errors[v]! += r.bad;
      process.stderr.write(
        `round ${round + 1} ${v}: ${(used / Math.max(1, r.ok)).toFixed(1)} µs CPU/req, ${r.ok} ok, ${r.bad} not ok\n`,
      );
    }
  }
  backend.close();
  const none = median(results.none!);
  const table = VARIANTS.map((v) => {
    const m = median(results[v]!);
    return {
      variant: v,
      cpuUsPerRequest: Number(m.toFixed(1)),
      vsNone: `${(((m - none) / none) * 100).toFixed(1)} %`,
      notOk: errors[v],
    };
  });
  const report = {
    rate: RATE,
    seconds: SECONDS,
    rounds: ROUNDS,
    node: process.version,
    date: new Date().toISOString(),
    table,
    filters,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (OUT) await writeFile(OUT, `${JSON.stringify(report, null, 2)}\n`);
}

await main();
