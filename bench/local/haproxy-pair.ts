/**
 * The reference for `meshctl bench`: a pair of haproxy processes (one thread each, mutual TLS 1.3,
 * the same certificate shape as the mesh's) placed in the same two pods as the ztunnels' traffic:
 * A in the client pod (plain in on 127.0.0.1, TLS out to B), B in the server pod (TLS in on the pod
 * IP, plain out to the app on 127.0.0.1). The namespace is out of the mesh while it runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAPROXY_BIN, configA, configB } from '../hbone/haproxy.js';
import { writeMaterials } from '../hbone/materials.js';

/** A's port in the client pod (loopback), B's on the server pod's IP. */
export const HAPROXY_A_PORT = 15900;
export const HAPROXY_B_PORT = 15901;

export interface PodRef {
  netns: string;
  ip: string;
}

export interface HaproxyPair {
  pids: Map<string, number>;
  stop(): void;
}

function startIn(netns: string, file: string, config: string): ChildProcess {
  writeFileSync(file, config);
  const check = spawnSync(HAPROXY_BIN, ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`bench: haproxy rejected ${file}: ${check.stderr || check.stdout}`);
  return spawn('ip', ['netns', 'exec', netns, HAPROXY_BIN, '-db', '-f', file], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export function startHaproxyPair(client: PodRef, server: PodRef, appPort: number): HaproxyPair {
  const dir = mkdtempSync(join(tmpdir(), 'ml-bench-haproxy-'));
  writeMaterials(dir);
  const b = startIn(
    server.netns,
    join(dir, 'b.cfg'),
    configB(dir, HAPROXY_B_PORT, appPort, 1, { bind: server.ip, peer: '127.0.0.1' }),
  );
  const a = startIn(
    client.netns,
    join(dir, 'a.cfg'),
    configA(dir, HAPROXY_A_PORT, HAPROXY_B_PORT, 1, { bind: '127.0.0.1', peer: server.ip }),
  );
  return {
    pids: new Map([
      ['haproxy-a', a.pid ?? 0],
      ['haproxy-b', b.pid ?? 0],
    ]),
    stop: () => {
      a.kill('SIGTERM');
      b.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
