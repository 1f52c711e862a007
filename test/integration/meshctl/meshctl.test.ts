import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { DirectorySource } from '../../../src/istiod/config/directory-source.js';

const MESHCTL = fileURLToPath(new URL('../../../src/meshctl/main.js', import.meta.url));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function meshctl(args: string[], env: Record<string, string> = {}, input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [MESHCTL, ...args],
      { env: { ...process.env, LOG_LEVEL: 'silent', ...env } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? '');
  });
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'meshctl-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const MANIFEST = `apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-all
  namespace: demo
spec:
  action: DENY
  rules:
  - from:
    - source:
        notNamespaces: [demo]
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`;

test('--help lists the commands, and each command has its own --help', async () => {
  const top = await meshctl(['--help']);
  assert.equal(top.code, 0);
  for (const c of ['apply', 'delete', 'get', 'label', 'demo'])
    assert.match(top.stdout, new RegExp(`^  ${c} `, 'm'));
  const apply = await meshctl(['apply', '--help']);
  assert.match(apply.stdout, /^Usage: meshctl apply -f FILE/);
  assert.match(apply.stdout, /--config-dir \(MESH_CONFIG_DIR\)/);
  const unknown = await meshctl(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const demo = await meshctl(['demo', '--help']);
  assert.match(demo.stdout, /^Usage: meshctl demo/);
});

test('apply writes one file per object, reports created/unchanged/configured, and the source reads them', async (t) => {
  const dir = await tempDir(t);
  const cfg = join(dir, 'config');
  await writeFile(join(dir, 'm.yaml'), MANIFEST);
  const first = await meshctl(['apply', '-f', join(dir, 'm.yaml')], { MESH_CONFIG_DIR: cfg });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(
    first.stdout,
    'namespace/demo created\nauthorizationpolicy.security.istio.io/deny-all created\nservice/web created\n',
  );
  assert.deepEqual((await readdir(cfg)).sort(), [
    'authorizationpolicy-demo-deny-all.yaml',
    'namespace-demo.yaml',
    'service-demo-web.yaml',
  ]);
  const stored = parse(await readFile(join(cfg, 'service-demo-web.yaml'), 'utf8')) as {
    metadata: { uid?: string };
  };
  assert.ok(stored.metadata.uid, 'a uid is assigned');

  const again = await meshctl(['apply', '-f', join(dir, 'm.yaml')], { MESH_CONFIG_DIR: cfg });
  assert.match(again.stdout, /service\/web unchanged/);
  await writeFile(join(dir, 'm.yaml'), MANIFEST.replace('action: DENY', 'action: AUDIT'));
  const changed = await meshctl(['apply', '--config-dir', cfg, '-f', join(dir, 'm.yaml')]);
  assert.match(changed.stdout, /authorizationpolicy.security.istio.io\/deny-all configured/);

  const source = new DirectorySource({ dir: cfg, rescanMs: 0 });
  await source.start();
  await source.stop();
  assert.deepEqual(source.issues(), []);
  assert.deepEqual(
    source
      .snapshot()
      .map((o) => `${o.kind} ${o.metadata.name}`)
      .sort(),
    ['AuthorizationPolicy deny-all', 'Namespace demo', 'Service web'],
  );
});

test('apply refuses the whole file when one object is invalid, with the errors', async (t) => {
  const dir = await tempDir(t);
  const cfg = join(dir, 'config');
  await writeFile(
    join(dir, 'bad.yaml'),
    MANIFEST.replace('action: DENY', 'action: DENYY').replace('port: 80', 'port: 0'),
  );
  const r = await meshctl(['apply', '-f', join(dir, 'bad.yaml')], { MESH_CONFIG_DIR: cfg });
  assert.equal(r.code, 1);
  const file = join(dir, 'bad.yaml');
  assert.equal(
    r.stderr,
    `error: ${file}, document 2: AuthorizationPolicy demo/deny-all: spec.action: "DENYY" is not one of ALLOW, DENY, AUDIT, CUSTOM\n` +
      `error: ${file}, document 3: Service demo/web: spec.ports[0].port: 0 is not a valid port number (an integer from 1 to 65535)\n` +
      'meshctl apply: nothing applied (2 errors)\n',
  );
  await assert.rejects(readdir(cfg), { code: 'ENOENT' });
});

test('apply and delete take -f more than once; an invalid object in one file applies none', async (t) => {
  const dir = await tempDir(t);
  const cfg = join(dir, 'config');
  const [ns, ...rest] = MANIFEST.split(/^---$/m);
  await writeFile(join(dir, 'ns.yaml'), ns!);
  await writeFile(join(dir, 'rest.yaml'), rest.join('---'));
  await writeFile(join(dir, 'bad.yaml'), rest.join('---').replace('action: DENY', 'action: DENYY'));
  const bad = await meshctl(['apply', '-f', join(dir, 'ns.yaml'), '-f', join(dir, 'bad.yaml')], {
    MESH_CONFIG_DIR: cfg,
  });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /bad\.yaml, document 1: AuthorizationPolicy demo\/deny-all: spec\.action/);
  await assert.rejects(readdir(cfg), { code: 'ENOENT' });
  const ok = await meshctl(['apply', '-f', join(dir, 'ns.yaml'), '-f', join(dir, 'rest.yaml')], {
    MESH_CONFIG_DIR: cfg,
  });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(
    ok.stdout,
    'namespace/demo created\nauthorizationpolicy.security.istio.io/deny-all created\nservice/web created\n',
  );
  const del = await meshctl(['delete', '-f', join(dir, 'rest.yaml'), '-f', join(dir, 'ns.yaml')], {
    MESH_CONFIG_DIR: cfg,
  });
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(await readdir(cfg), []);
});

test('get: tables, namespaces, aliases, -o yaml/json, not found', async (t) => {
  const dir = await tempDir(t);
  const env = { MESH_CONFIG_DIR: dir };
  await meshctl(['apply', '-f', '-'], env, MANIFEST);
  const table = await meshctl(['get', 'ap', '-n', 'demo'], env);
  assert.match(table.stdout, /^NAME\s+ACTION\s+AGE\ndeny-all\s+DENY\s+\d+s\n$/);
  const all = await meshctl(['get', 'svc', '-A'], env);
  assert.match(
    all.stdout,
    /^NAMESPACE\s+NAME\s+TYPE\s+CLUSTER-IP\s+PORT\(S\)\s+AGE\ndemo\s+web\s+ClusterIP\s+10\.96\.0\.10\s+80\/TCP\s+\d+s\n$/,
  );
  const empty = await meshctl(['get', 'services'], env);
  assert.equal(empty.stderr, 'No resources found in default namespace.\n');
  const ns = await meshctl(['get', 'ns'], env);
  assert.match(ns.stdout, /^NAME\s+STATUS\s+AGE\ndemo\s+Active/);
  const yaml = parse(
    (await meshctl(['get', 'authorizationpolicy', 'deny-all', '-n', 'demo', '-o', 'yaml'], env)).stdout,
  ) as {
    kind: string;
    spec: { action: string };
  };
  assert.equal(yaml.kind, 'AuthorizationPolicy');
  assert.equal(yaml.spec.action, 'DENY');
  const json = JSON.parse((await meshctl(['get', 'po', '-A', '-o', 'json'], env)).stdout) as {
    kind: string;
    items: unknown[];
  };
  assert.deepEqual(json, { apiVersion: 'v1', kind: 'List', items: [] });
  const missing = await meshctl(['get', 'pa', 'nope'], env);
  assert.equal(missing.code, 1);
  assert.equal(missing.stderr, 'error: peerauthentications.security.istio.io "nope" not found\n');
  const badKind = await meshctl(['get', 'widgets'], env);
  assert.equal(badKind.code, 1);
});

test('label: creates a missing Namespace, refuses a change without --overwrite, removes with key-', async (t) => {
  const dir = await tempDir(t);
  const env = { MESH_CONFIG_DIR: dir };
  const created = await meshctl(['label', 'namespace', 'shop', 'istio.io/dataplane-mode=ambient'], env);
  assert.equal(created.code, 0, created.stderr);
  assert.equal(created.stdout, 'namespace/shop created and labeled\n');
  const show = await meshctl(['get', 'ns', '--show-labels'], env);
  assert.match(show.stdout, /shop\s+Active\s+\d+s\s+istio\.io\/dataplane-mode=ambient/);
  const refused = await meshctl(['label', 'ns', 'shop', 'istio.io/dataplane-mode=none'], env);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /already has a value \(ambient\), and --overwrite is false/);
  const over = await meshctl(
    ['label', 'ns', 'shop', 'istio.io/dataplane-mode=none', '--overwrite', 'team=a'],
    env,
  );
  assert.equal(over.code, 0);
  const removed = await meshctl(['label', 'ns', 'shop', 'istio.io/dataplane-mode-'], env);
  assert.equal(removed.stdout, 'namespace/shop labeled\n');
  const obj = parse(await readFile(join(dir, 'namespace-shop.yaml'), 'utf8')) as {
    metadata: { labels: Record<string, string> };
  };
  assert.deepEqual(obj.metadata.labels, { team: 'a' });
  await meshctl(['apply', '-f', '-'], env, MANIFEST);
  const svc = await meshctl(['label', 'svc', 'demo/web', 'istio.io/use-waypoint=waypoint'], env);
  assert.equal(svc.stdout, 'service/web labeled\n');
  const bad = await meshctl(['label', 'pod', 'demo/nope', 'a=b'], env);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr, 'error: Pod demo/nope not found\n');
});

test('delete -f and delete KIND NAME remove the files', async (t) => {
  const dir = await tempDir(t);
  const env = { MESH_CONFIG_DIR: dir };
  await meshctl(['apply', '-f', '-'], env, MANIFEST);
  const one = await meshctl(['delete', 'svc', 'web', '-n', 'demo'], env);
  assert.equal(one.stdout, 'service/web deleted\n');
  const manifest = join(await tempDir(t), 'm.yaml');
  await writeFile(manifest, MANIFEST);
  const r = await meshctl(['delete', '-f', manifest], env);
  assert.equal(r.code, 1, 'web is already gone');
  assert.match(r.stdout, /namespace\/demo deleted\nauthorizationpolicy.security.istio.io\/deny-all deleted/);
  assert.equal(r.stderr, 'error: Service demo/web not found\n');
  assert.deepEqual(await readdir(dir), []);
});

const TWO_GATEWAYS = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: bookinfo}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: bookinfo-gateway, namespace: bookinfo}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 8080, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo, namespace: bookinfo}
spec:
  hosts: ["*"]
  gateways: [bookinfo-gateway, edge/missing]
  http: [{route: [{destination: {host: productpage}}]}]
`;

test('the two Gateway kinds: one name each, own files, named like kubectl; IST0101 for a missing one', async (t) => {
  const dir = await tempDir(t);
  const env = { MESH_CONFIG_DIR: dir };
  const ap = await meshctl(['apply', '-f', '-'], env, TWO_GATEWAYS);
  assert.equal(ap.code, 0, ap.stderr);
  assert.equal(
    ap.stdout,
    'gateway.networking.istio.io/bookinfo-gateway created\n' +
      'gateway.gateway.networking.k8s.io/bookinfo-gateway created\n' +
      'virtualservice.networking.istio.io/bookinfo created\n',
  );
  assert.equal(
    ap.stderr,
    'warning: [IST0101] (VirtualService bookinfo/bookinfo) Referenced gateway not found: "edge/missing"\n',
  );
  assert.deepEqual((await readdir(dir)).sort(), [
    'gateway-bookinfo-bookinfo-gateway.yaml',
    'gateway.networking.istio.io-bookinfo-bookinfo-gateway.yaml',
    'virtualservice-bookinfo-bookinfo.yaml',
  ]);
  const istio = await meshctl(['get', 'gateways.networking.istio.io', '-n', 'bookinfo', '-o', 'yaml'], env);
  assert.equal(
    (parse(istio.stdout) as { items: { apiVersion: string }[] }).items.map((o) => o.apiVersion).join(),
    'networking.istio.io/v1',
  );
  const api = await meshctl(['get', 'gateway', 'bookinfo-gateway', '-n', 'bookinfo', '-o', 'json'], env);
  assert.equal((JSON.parse(api.stdout) as { apiVersion: string }).apiVersion, 'gateway.networking.k8s.io/v1');
  const del = await meshctl(['delete', 'gw', 'bookinfo-gateway', '-n', 'bookinfo'], env);
  assert.equal(del.stdout, 'gateway.networking.istio.io/bookinfo-gateway deleted\n');
  const left = await meshctl(['get', 'gtw', '-n', 'bookinfo'], env);
  assert.match(left.stdout, /bookinfo-gateway\s+istio/, 'the Gateway API one stays');
  const none = await meshctl(['get', 'gw', 'bookinfo-gateway', '-n', 'bookinfo'], env);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /gateways\.networking\.istio\.io "bookinfo-gateway" not found/);
  // The directory source reads both kinds of the same name as two objects.
  await meshctl(['apply', '-f', '-'], env, TWO_GATEWAYS);
  const src = new DirectorySource({ dir, rescanMs: 0 });
  await src.start();
  await src.stop();
  assert.deepEqual(src.issues(), []);
  assert.deepEqual(
    src
      .snapshot()
      .map((o) => `${o.apiVersion} ${o.kind}`)
      .sort(),
    [
      'gateway.networking.k8s.io/v1 Gateway',
      'networking.istio.io/v1 Gateway',
      'networking.istio.io/v1 VirtualService',
    ],
  );
});
