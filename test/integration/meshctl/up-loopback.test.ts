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
