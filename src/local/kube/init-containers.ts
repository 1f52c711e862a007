/**
 * A pod's init containers in the kubelet role: each runs to completion inside the pod's network
 * namespace, in order, before any of the pod's containers starts (`istio-init` loads an injected pod's
 * capture rules this way). Output goes to the pod's container log, as the containers' does.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { delimiter, dirname } from 'node:path';
import type { Container } from '../cluster/manifests.js';

const NODE_PATH = [dirname(process.execPath), process.env.PATH ?? '/usr/bin:/bin'].join(delimiter);

/** How an init container ended: its exit code (or the signal that ended it). */
export interface InitResult {
  name: string;
  exitCode: number;
  signal?: string;
}

/** Runs one container to its end in `netns`; never rejects (a spawn failure is exit code 127). */
export function runToCompletion(netns: string, c: Container, logFile: string): Promise<InitResult> {
  return new Promise((resolve) => {
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn('ip', ['netns', 'exec', netns, ...c.command, ...c.args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: NODE_PATH, ...c.env },
    });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    let spawnError: Error | undefined;
    child.on('error', (err) => (spawnError = err));
    child.once('close', (code, signal) => {
      const exitCode = spawnError ? 127 : (code ?? 128);
      log.end(
        `[kubelet] init container ${c.name} ${spawnError ? `could not start: ${spawnError.message}` : `exited (${signal ?? code})`}\n`,
      );
      resolve({ name: c.name, exitCode, ...(signal ? { signal } : {}) });
    });
  });
}

/** Runs the init containers in order; stops at the first that fails and returns its result. */
export async function runInitContainers(
  netns: string,
  containers: Container[],
  logFile: string,
): Promise<InitResult | undefined> {
  for (const c of containers) {
    const r = await runToCompletion(netns, c, logFile);
    if (r.exitCode !== 0) return r;
  }
  return undefined;
}
