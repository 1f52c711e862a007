/**
 * The mesh as separate processes, as a user runs it: istiod (config directory, CA with node tokens) and
 * one ztunnel per node getting their workload certificates from istiod's CA; curl through SOCKS5.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { addNodeToken } from '../../../src/istiod/ca/local-tokens.js';
import { meshYaml, echoApp, pod } from './mesh-fixture.js';

const dist = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');
const N = 77;

interface Proc {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  waitFor(
    pred: (l: Record<string, unknown>) => boolean,
    what: string,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  exit: Promise<number | null>;
}

function start(cmd: string, args: string[]): Proc {
  const child = spawn(process.execPath, [join(dist, cmd), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      lines.push({ msg: l });
    }
    for (const w of waiters.splice(0)) w();
  });
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    lines,
    exit,
    waitFor(pred, what, ms = 10_000) {
      return new Promise((res, rej) => {
        const t = setTimeout(
          () =>
            rej(
              new Error(
                `${cmd}: no log line for ${what} in ${ms} ms; stderr: ${stderr}; last lines: ${JSON.stringify(lines.slice(-5))}`,
              ),
            ),
          ms,
        );
        const check = (): void => {
          const hit = lines.find(pred);
          if (hit) {
            clearTimeout(t);
            res(hit);
          } else waiters.push(check);
        };
        check();
      });
    },
  };
}

function curl(args: string[]): Promise<string> {
  return new Promise((res) =>
    execFile('curl', args, { timeout: 10_000 }, (_e, out, err) => res(`${out}${err}`)),
  );
}

test('istiod + two ztunnel processes: certificates from the CA, xDS on 15010 and on mTLS 15012, traffic through SOCKS5, clean SIGTERM', async (t) => {
  const probe = await curl(['--version']);
  if (!probe.startsWith('curl')) return t.skip('curl is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'mesh-procs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'config'));
  await writeFile(join(dir, 'config', 'mesh.yaml'), meshYaml(N));
  const tokens = join(dir, 'node-tokens.json');
  const ztId = { trustDomain: 'cluster.local', namespace: 'istio-system', serviceAccount: 'ztunnel' };
  for (const node of ['node-1', 'node-2']) {
    await writeFile(join(dir, `${node}.token`), await addNodeToken(tokens, { node, identity: ztId }), {
      mode: 0o600,
    });
  }
  const istiod = start('istiod/main.js', [
    '--config-dir',
    join(dir, 'config'),
    '--xds-address',
    '127.0.0.1:0',
    '--secure-xds-address',
    '127.0.0.1:0',
    '--monitoring-address',
    '127.0.0.1:0',
    '--ca-dir',
    join(dir, 'ca'),
    '--node-token-file',
    tokens,
  ]);
  const procs: Proc[] = [istiod];
  t.after(() => procs.forEach((p) => p.child.kill('SIGKILL')));
  const started = await istiod.waitFor((l) => l.msg === 'istiod started', 'istiod started');
  const { xds, secureXds } = started.ports as { xds: number; secureXds: number };
  const apps = [await echoApp(pod(N, 2, 5), 8080, 'echo-1'), await echoApp(pod(N, 1, 6), 8080, 'echo-2')];
  t.after(() => apps.forEach((a) => a.close()));
  const zts = ['node-1', 'node-2'].map((node, i) =>
    start('ztunnel/main.js', [
      '--node-name',
      node,
      '--node-ip',
      pod(N, i + 1, 1),
      '--xds-address',
      `127.0.0.1:${xds}`,
      // node-2 moves its xDS to the mTLS port once it holds its own certificate; node-1 stays on 15010.
      ...(node === 'node-2' ? ['--secure-xds-address', `127.0.0.1:${secureXds}`] : []),
      '--token-file',
      join(dir, `${node}.token`),
      '--admin-port',
      '0',
      '--metrics-port',
      '0',
      '--readiness-port',
      '0',
    ]),
  );
  procs.push(...zts);
  for (const zt of zts) await zt.waitFor((l) => l.msg === 'first state sync done', 'the first sync');
  await zts[1]!.waitFor((l) => l.msg === 'connected to istiod (mTLS)', 'the mTLS xDS connection');
  // Give the certificate fetches a moment; then the request must go through.
  let out = '';
  for (let i = 0; i < 20 && !/echo-1:GET/.test(out); i++) {
    out = await curl([
      '-sS',
      '--http0.9',
      '--max-time',
      '1',
      '--interface',
      pod(N, 1, 2),
      '--socks5-hostname',
      `${pod(N, 1, 1)}:15080`,
      `http://${pod(N, 2, 5)}:8080/`,
    ]);
  }
  assert.match(out, /echo-1:GET \/ HTTP\/1\.1/);
  const inbound = await zts[1]!.waitFor(
    (l) => l.access === true && l.direction === 'inbound' && l.result === 'ok',
    'the inbound access log',
  );
  assert.equal(inbound.src_identity, 'spiffe://cluster.local/ns/default/sa/curl');
  assert.equal(inbound.dst_identity, 'spiffe://cluster.local/ns/default/sa/echo');
  for (const p of [...zts, istiod]) p.child.kill('SIGTERM');
  for (const p of [...zts, istiod]) assert.equal(await p.exit, 0);
});
