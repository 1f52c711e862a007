import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const meshctl = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src/meshctl/main.js');

test('meshctl up --loopback: istiod and two ztunnel processes, the demo request over HBONE, Ctrl-C stops everything', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'up-loopback-'));
  t.after(() => rm(state, { recursive: true, force: true }));
  const child = spawn(process.execPath, [meshctl, 'up', '--loopback', '--state-dir', state], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const end = Date.now() + 30_000;
  while (!out.includes('Ctrl-C stops it') && Date.now() < end && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGINT');
  assert.equal(await exited, 0, out);
  assert.match(out, /response: 200 from echo/);
  assert.match(
    out,
    /ztunnel node-1 outbound: spiffe:\/\/cluster\.local\/ns\/default\/sa\/curl -> spiffe:\/\/cluster\.local\/ns\/default\/sa\/echo \(hbone/,
  );
  assert.match(
    out,
    /ztunnel node-2 inbound: spiffe:\/\/cluster\.local\/ns\/default\/sa\/curl -> .* result=ok/,
  );
  assert.match(out, /loopback cluster ready/);
});

test('meshctl up --loopback --detach returns once ready; status, get and down act on that cluster', async (t) => {
  const state = await mkdtemp(join(tmpdir(), 'up-loopback-d-'));
  const env: NodeJS.ProcessEnv = { ...process.env, MESHLITE_STATE_DIR: state };
  delete env.MESH_CONFIG_DIR;
  const run = (args: string[]): Promise<{ code: number | null; out: string }> =>
    new Promise((res) => {
      const c = spawn(process.execPath, [meshctl, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.stderr.on('data', (d: Buffer) => (out += d.toString()));
      c.once('exit', (code) => res({ code, out }));
    });
  t.after(async () => {
    await run(['down']);
    await rm(state, { recursive: true, force: true });
  });
  const up = await run(['up', '--loopback', '--detach']);
  assert.equal(up.code, 0, up.out);
  assert.match(up.out, /loopback cluster ready/);
  const status = await run(['status']);
  assert.match(status.out, /cluster loopback \(loopback, ready\)/);
  assert.match(status.out, /ztunnel node-2 +127\.0\.0\.1:15100 +running +0/);
  // The loopback istiod's config directory is the default of the configuration commands.
  const got = await run(['get', 'namespaces']);
  assert.match(got.out, /^default +Active/m);
  const down = await run(['down']);
  assert.equal(down.code, 0, down.out);
  assert.match((await run(['status'])).out, /no cluster running/);
});
