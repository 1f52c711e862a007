import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectorySource } from '../../../../src/istiod/config/directory-source.js';
import { ConfigStore } from '../../../../src/istiod/config/store.js';
import type { ConfigEvent } from '../../../../src/istiod/config/source.js';
import { waitFor } from './helpers/wait-for.js';

function ns(name: string, mode?: string): string {
  return `apiVersion: v1
kind: Namespace
metadata:
  name: ${name}
${mode ? `  labels:\n    istio.io/dataplane-mode: ${mode}\n` : ''}`;
}

function policy(name: string, action: string): string {
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: demo
spec:
  action: ${action}
`;
}

async function setup(t: { after: (fn: () => Promise<void>) => void }, files: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'dirsource-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  // A long periodic rescan: changes must arrive through fs.watch (or an explicit rescan()).
  const source = new DirectorySource({ dir, debounceMs: 20, rescanMs: 60_000 });
  const store = new ConfigStore();
  const events: ConfigEvent[] = [];
  store.attach(source);
  t.after(async () => {
    await source.stop();
    await rm(dir, { recursive: true, force: true });
  });
  await source.start();
  store.onChange((e) => events.push(e));
  return { dir, source, store, events };
}

const write = (dir: string, name: string, text: string) => writeFile(join(dir, name), text);

test('initial load of multi-document files; synced after the first scan; unknown kinds ignored', async (t) => {
  const { source, store } = await setup(t, {
    'a.yaml': `${ns('demo', 'ambient')}---\n${policy('deny', 'DENY')}---\napiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: ef}\n`,
    'b.yml': ns('other'),
    'c.json': JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'json' } }),
    'notes.txt': ns('ignored'),
  });
  assert.equal(source.synced, true);
  assert.deepEqual(
    store.list('Namespace').map((n) => n.metadata.name),
    ['demo', 'json', 'other'],
  );
  assert.equal(store.get('AuthorizationPolicy', 'demo', 'deny')?.spec.action, 'DENY');
  assert.deepEqual(source.issues(), []);
});

test('a new file, an edit and a removed file take effect without a restart', async (t) => {
  const { dir, store, events } = await setup(t, { 'a.yaml': ns('demo') });
  await write(dir, 'b.yaml', policy('p', 'ALLOW'));
  await waitFor('the new file', () => store.get('AuthorizationPolicy', 'demo', 'p') !== undefined);
  await write(dir, 'a.yaml', ns('demo', 'ambient'));
  await waitFor(
    'the edit',
    () =>
      store.get('Namespace', undefined, 'demo')?.metadata.labels?.['istio.io/dataplane-mode'] === 'ambient',
  );
  await unlink(join(dir, 'b.yaml'));
  await waitFor('the removal', () => store.get('AuthorizationPolicy', 'demo', 'p') === undefined);
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.key}`),
    ['add AuthorizationPolicy/demo/p', 'update Namespace//demo', 'delete AuthorizationPolicy/demo/p'],
  );
});

test('an invalid object is rejected with a clear error and its last good version keeps serving', async (t) => {
  const { dir, source, store } = await setup(t, { 'p.yaml': policy('p', 'ALLOW') });
  await write(dir, 'p.yaml', policy('p', 'DENYY'));
  await waitFor('the issue', () => source.issues().length > 0);
  assert.deepEqual(
    source.issues().map((i) => i.text),
    [
      'p.yaml, document 1: AuthorizationPolicy demo/p: spec.action: "DENYY" is not one of ALLOW, DENY, AUDIT, CUSTOM',
    ],
  );
  assert.equal(store.get('AuthorizationPolicy', 'demo', 'p')?.spec.action, 'ALLOW');
  await write(dir, 'p.yaml', policy('p', 'DENY'));
  await waitFor('the fix', () => store.get('AuthorizationPolicy', 'demo', 'p')?.spec.action === 'DENY');
  assert.deepEqual(source.issues(), []);
});

test('a file that is not valid YAML keeps its previous objects', async (t) => {
  const { dir, source, store } = await setup(t, { 'm.yaml': `${ns('a')}---\n${ns('b')}` });
  await write(dir, 'm.yaml', 'kind: Namespace\nmetadata: {name: a\n');
  await waitFor('the issue', () => source.issues().length > 0);
  assert.match(source.issues()[0]!.text, /^m\.yaml, document 1: not valid YAML at line \d+, column \d+: /);
  assert.deepEqual(
    store.list('Namespace').map((n) => n.metadata.name),
    ['a', 'b'],
  );
  await write(dir, 'm.yaml', ns('a'));
  await waitFor('the fixed file', () => store.list('Namespace').length === 1);
});

test("a broken document that cannot be named keeps the file's previous objects", async (t) => {
  const { dir, source, store } = await setup(t, { 'm.yaml': `${ns('a')}---\n${ns('b')}` });
  await write(dir, 'm.yaml', `${ns('a')}---\napiVersion: v1\nkind: Namespace\nmetadata: {labels: {x: y}}\n`);
  await waitFor('the issue', () => source.issues().length > 0);
  assert.equal(
    source.issues()[0]!.text,
    'm.yaml, document 2: Namespace <no name>: metadata.name: is required',
  );
  assert.deepEqual(
    store.list('Namespace').map((n) => n.metadata.name),
    ['a', 'b'],
  );
});

test('the same object in two files: a clear error and the first file by name wins', async (t) => {
  const { dir, source, store } = await setup(t, { '10-first.yaml': policy('p', 'DENY') });
  await write(dir, '20-second.yaml', policy('p', 'AUDIT'));
  await waitFor('the duplicate issue', () => source.issues().length > 0);
  assert.deepEqual(
    source.issues().map((i) => i.text),
    [
      '20-second.yaml: AuthorizationPolicy demo/p is defined in both 10-first.yaml and 20-second.yaml; using the one in 10-first.yaml',
    ],
  );
  assert.equal(store.get('AuthorizationPolicy', 'demo', 'p')?.spec.action, 'DENY');
  await unlink(join(dir, '10-first.yaml'));
  await waitFor(
    'the second file taking over',
    () => store.get('AuthorizationPolicy', 'demo', 'p')?.spec.action === 'AUDIT',
  );
});

test('atomic replace (write temp + rename) and a directory created after start', async (t) => {
  const { dir, store } = await setup(t, {});
  await write(dir, '.x.tmp', ns('renamed'));
  await rename(join(dir, '.x.tmp'), join(dir, 'x.yaml'));
  await waitFor('the renamed file', () => store.get('Namespace', undefined, 'renamed') !== undefined);

  const missing = join(dir, 'later');
  const late = new DirectorySource({ dir: missing, debounceMs: 20, rescanMs: 60_000 });
  t.after(() => late.stop());
  await late.start();
  assert.equal(late.synced, true);
  assert.equal(late.snapshot().length, 0);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(missing);
  await write(missing, 'n.yaml', ns('late'));
  await late.rescan();
  assert.deepEqual(
    late.snapshot().map((o) => o.metadata.name),
    ['late'],
  );
});
