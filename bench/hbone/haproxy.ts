/**
 * The reference two-hop tunnel built from haproxy: A (`mode tcp`, plain in, mutual TLS 1.3 out) and
 * B (mutual TLS 1.3 in, plain out), each its own process, same certificates as our proxies.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { join } from 'node:path';

export const HAPROXY_BIN = process.env.HAPROXY_BIN ?? '/usr/sbin/haproxy';
const CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384';

export function haproxyAvailable(): boolean {
  return existsSync(HAPROXY_BIN);
}

/** `HAProxy version 2.6.12-...` → `2.6.12-...`; undefined when haproxy is missing. */
export function haproxyVersion(): string | undefined {
  if (!haproxyAvailable()) return undefined;
  const out = spawnSync(HAPROXY_BIN, ['-v'], { encoding: 'utf8' }).stdout ?? '';
  return /version (\S+)/.exec(out)?.[1];
}

function global(threads: number): string {
  return `global
  nbthread ${threads}
  maxconn 4000
  ssl-default-bind-ciphersuites ${CIPHERSUITES}
  ssl-default-server-ciphersuites ${CIPHERSUITES}
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-server-options ssl-min-ver TLSv1.3
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
`;
}

/** Where a haproxy binds and whom it dials (both loopback unless the two run on different hosts). */
export interface HaproxyHosts {
  bind?: string;
  peer?: string;
}

/** haproxy A: plain TCP in on `port`, TLS (our cert a.pem, server verified against root.pem) to B. */
export function configA(
  dir: string,
  port: number,
  bPort: number,
  threads: number,
  h: HaproxyHosts = {},
): string {
  return `${global(threads)}
frontend plain_in
  bind ${h.bind ?? '127.0.0.1'}:${port}
  default_backend tls_out
backend tls_out
  server b ${h.peer ?? '127.0.0.1'}:${bPort} ssl verify required ca-file ${join(dir, 'root.pem')} crt ${join(dir, 'a.pem')}
`;
}

/** haproxy B: TLS in on `port` (client certificate required), plain TCP to the server. */
export function configB(
  dir: string,
  port: number,
  serverPort: number,
  threads: number,
  h: HaproxyHosts = {},
): string {
  return `${global(threads)}
frontend tls_in
  bind ${h.bind ?? '127.0.0.1'}:${port} ssl crt ${join(dir, 'b.pem')} ca-file ${join(dir, 'root.pem')} verify required
  default_backend plain_out
backend plain_out
  server s ${h.peer ?? '127.0.0.1'}:${serverPort}
`;
}

/** A loopback port that was free a moment ago (haproxy needs its port in the config file). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Writes `config` to `<dir>/<name>.cfg`, starts haproxy in the foreground and waits for `port`. */
export async function startHaproxy(
  dir: string,
  name: string,
  config: string,
  port: number,
): Promise<ChildProcess> {
  const file = join(dir, `${name}.cfg`);
  writeFileSync(file, config);
  const check = spawnSync(HAPROXY_BIN, ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`bench: haproxy rejected ${file}: ${check.stderr || check.stdout}`);
  const proc = spawn(HAPROXY_BIN, ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (proc.exitCode !== null) throw new Error(`bench: haproxy ${name} exited with ${proc.exitCode}`);
    if (Date.now() > deadline) throw new Error(`bench: haproxy ${name} is not listening on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return proc;
}
