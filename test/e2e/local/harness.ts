/**
 * What the local-cluster e2e files share: whether this machine can run the cluster (else each test is
 * skipped with the reason), waiting for a condition, and meshctl as a user runs it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { TestContext } from 'node:test';
import { DIST_SRC, LocalCluster } from '../../../src/local/cluster/cluster.js';
import { preflight } from '../../../src/local/cluster/preflight.js';

const pre = await preflight();
/** `false` where the cluster can run (root, ip, nft, the addon); else the reason to skip. */
export const skip: false | string = pre.ok ? false : `the local cluster needs ${pre.missing.join(', ')}`;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every 250 ms until it holds; fails naming `what` after `ms` (default 30 s). */
export async function waitFor(
  what: string,
  fn: () => Promise<boolean> | boolean,
  ms = 30_000,
): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(250);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Runs `meshctl ARGS` (the compiled one, on this Node); its exit code and output (stdout + stderr). */
export function meshctl(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; out: string }> {
  return new Promise((res) =>
    execFile(process.execPath, [join(DIST_SRC, 'meshctl/main.js'), ...args], { env }, (e, out, err) =>
      res({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: `${out}${err}` }),
    ),
  );
}

/** The cluster running on each test state directory (a restart replaces it). */
const running = new Map<string, LocalCluster>();

/**
 * `meshctl down` then `meshctl up` on the same state: `old` stops and a new cluster starts with the
 * same options; what the old run wrote to its configuration (a waypoint Gateway, generated objects,
 * statuses) is still there (the kubelet loop is not on yet: call `watch`). The test's
 * cleanup stops the new one.
 */
export async function restartCluster(old: LocalCluster): Promise<LocalCluster> {
  await old.stop();
  const cluster = new LocalCluster(old.o);
  running.set(old.o.stateDir, cluster);
  await cluster.start();
  return cluster;
}

/**
 * A running local cluster for one test: a fresh state directory, `files` (paths from the repository
 * root, each changed by `edit` when given) as the objects deployed at start, the kubelet loop on; stopped and removed after the test.
 */
export async function startCluster(
  t: TestContext,
  name: string,
  files: string[],
  edit?: (file: string, text: string) => string,
): Promise<LocalCluster> {
  const stateDir = await mkdtemp(join(tmpdir(), `ml-${name}-`));
  const configDir = join(stateDir, 'deploy');
  await mkdir(configDir, { recursive: true });
  const root = resolve(DIST_SRC, '../..');
  for (const f of files) {
    if (edit) await writeFile(join(configDir, basename(f)), edit(f, await readFile(join(root, f), 'utf8')));
    else await copyFile(join(root, f), join(configDir, basename(f)));
  }
  const cluster = new LocalCluster({ name, stateDir, nodes: 2, configDir, progress: () => undefined });
  running.set(stateDir, cluster);
  t.after(async () => {
    await running.get(stateDir)?.stop();
    running.delete(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  });
  await cluster.start();
  cluster.watch(250);
  return cluster;
}
