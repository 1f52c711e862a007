import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const meshctl = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/meshctl/main.js');

test('meshctl demo tunnels requests over HBONE and shows both identities and the denial', async () => {
  const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(process.execPath, [meshctl, 'demo', '--requests', '2'], { timeout: 30_000 }, (err, stdout) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
  assert.equal(code, 0, stdout);
  assert.match(stdout, /200 from echo: path \/hello/);
  assert.match(stdout, /proxy A verified the server: spiffe:\/\/cluster\.local\/ns\/default\/sa\/echo/);
  assert.match(stdout, /proxy B: peer spiffe:\/\/cluster\.local\/ns\/default\/sa\/curl/);
  assert.match(stdout, /TLSv1\.3 TLS_AES_(128|256)_GCM_SHA(256|384), ALPN h2/);
  assert.match(stdout, /DENY \(peer namespace "other" is not allowed\) -> 401/);
  assert.match(stdout, /demo: OK/);
});
