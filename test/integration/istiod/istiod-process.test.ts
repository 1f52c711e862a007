/**
 * The compiled `istiod` executable as a child process: --help, serving a configuration directory to a
 * delta xDS client, and a clean exit (status 0) on SIGTERM.
 */
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { istiodSchema } from '../../../src/istiod/options.js';
import { TunnelProtocol } from '../../../src/xds/workload-types.js';
import { configDir } from './fixtures.js';
import { MeshClient, waitFor } from './helpers.js';

const MAIN = fileURLToPath(new URL('../../../src/istiod/main.js', import.meta.url));

test('istiod --help lists every option with its environment variable and default', () => {
  const r = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  for (const spec of Object.values(istiodSchema)) {
    const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith(`--${spec.flag} `));
    assert.ok(line, `--${spec.flag} is listed`);
    assert.ok(line.includes(`(${spec.env})`), `--${spec.flag} names ${spec.env}`);
    assert.match(line, /\[default: .+\]$/);
  }
});

test('docs/istiod.md lists every option with its environment variable', () => {
  const doc = readFileSync(fileURLToPath(new URL('../../../../docs/istiod.md', import.meta.url)), 'utf8');
  for (const spec of Object.values(istiodSchema)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`--${spec.flag}\``));
    assert.ok(row, `--${spec.flag} has a row in the options table`);
    assert.ok(row.includes(`\`${spec.env}\``), `--${spec.flag}'s row names ${spec.env}`);
  }
});

test('istiod serves a configuration directory and exits 0 on SIGTERM', async (t) => {
  const dir = await configDir();
  t.after(() => dir.cleanup());
  // Port 0 for both listeners: the child reports the bound ports in its "istiod started" log line.
  const child = spawn(
    process.execPath,
    [
      MAIN,
      '--config-dir',
      dir.dir,
      '--xds-address',
      '127.0.0.1:0',
      '--monitoring-address',
      '127.0.0.1:0',
      '--secure-xds-address',
      '127.0.0.1:0',
      '--ca-dir',
      join(dir.dir, '.ca'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const ports = await new Promise<{ xds: number; monitoring: number }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const rec = JSON.parse(line) as { msg?: string; ports?: { xds: number; monitoring: number } };
      if (rec.msg === 'istiod started' && rec.ports) resolve(rec.ports);
    });
    void exited.then((code) => reject(new Error(`istiod exited early (${code}): ${stderr}`)));
  });

  const client = new MeshClient(ports.xds).start();
  t.after(() => client.close());
  await waitFor('a workload', () => client.workload('demo', 'web-0') !== undefined);
  assert.equal(client.workload('demo', 'web-0')?.tunnelProtocol, TunnelProtocol.HBONE);

  child.kill('SIGTERM');
  const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 5000).unref());
  assert.equal(await Promise.race([exited, timeout]), 0, stderr);
  // The stream ended, so the client started reconnecting.
  await waitFor('the stream to end', () => client.client.stats.connects >= 2);
});
