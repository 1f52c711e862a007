/**
 * meshctl waypoint against a configuration directory, and the local cluster's waypoint controller on
 * the objects it writes (no cluster needed: the controller is a pass over the directory).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { WaypointController } from '../../../src/local/cluster/waypoint-controller.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test reads of generated YAML
type Any = any;
const parse = (text: string): Any => parseYaml(text) as Any;

const MESHCTL = fileURLToPath(new URL('../../../src/meshctl/main.js', import.meta.url));

function meshctl(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [MESHCTL, ...args],
      { env: { ...process.env, LOG_LEVEL: 'silent' } },
      (err, o, e) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${o}${e}` }),
    ),
  );
}

test('meshctl waypoint apply/list/status/delete and the controller (Deployment, Service, token, status)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'meshctl-wp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const cfg = join(dir, 'config');
  const a = await meshctl([
    'waypoint',
    'apply',
    '-n',
    'demo',
    '--for',
    'all',
    '--enroll-namespace',
    '--config-dir',
    cfg,
  ]);
  assert.equal(a.code, 0, a.out);
  assert.match(
    a.out,
    /waypoint demo\/waypoint applied\nnamespace demo labeled with "istio.io\/use-waypoint: waypoint"/,
  );
  const gw = parse(await readFile(join(cfg, 'gateway-demo-waypoint.yaml'), 'utf8'));
  assert.equal(gw.spec.gatewayClassName, 'istio-waypoint');
  assert.deepEqual(gw.spec.listeners, [{ name: 'mesh', port: 15008, protocol: 'HBONE' }]);
  assert.equal(gw.metadata.labels['istio.io/waypoint-for'], 'all');
  const ns = parse(await readFile(join(cfg, 'namespace-demo.yaml'), 'utf8'));
  assert.equal(ns.metadata.labels['istio.io/use-waypoint'], 'waypoint');
  assert.equal(
    (await meshctl(['waypoint', 'apply', '-n', 'demo', '--for', 'bogus', '--config-dir', cfg])).code,
    2,
  );

  const tokens = join(dir, 'node-tokens.json');
  await writeFile(tokens, '{"tokens":[]}\n', { mode: 0o600 });
  const ctl = new WaypointController({
    configDir: cfg,
    stateDir: dir,
    logsDir: dir,
    tokensFile: tokens,
    xdsAddress: '10.244.255.1:15010',
    execPath: '/usr/bin/node',
  });
  assert.equal(await ctl.reconcile(), true);
  const files = await readdir(cfg);
  assert.ok(
    files.includes('deployment-demo-waypoint.yaml') && files.includes('service-demo-waypoint.yaml'),
    files.join(),
  );
  const dep = parse(await readFile(join(cfg, 'deployment-demo-waypoint.yaml'), 'utf8'));
  assert.equal(dep.spec.template.spec.serviceAccountName, 'waypoint');
  assert.ok(dep.spec.template.spec.containers[0].args.includes('--token-file'));
  const rec = JSON.parse(await readFile(tokens, 'utf8')) as {
    tokens: Array<{ node: string; identity: string }>;
  };
  assert.deepEqual(
    rec.tokens.map((x) => [x.node, x.identity]),
    [['waypoint/demo/waypoint', 'spiffe://cluster.local/ns/demo/sa/waypoint']],
  );
  let list = await meshctl(['waypoint', 'list', '-n', 'demo', '--config-dir', cfg]);
  assert.match(list.out, /demo\s+waypoint\s+all\s+False\s+waypoint\.demo\.svc\.cluster\.local/);
  // The waypoint pod logs that it has its configuration: Programmed.
  await writeFile(join(dir, 'pod-demo-waypoint-1.log'), '{"msg":"waypoint configuration applied"}\n');
  assert.equal(await ctl.reconcile(), true);
  assert.equal(await ctl.reconcile(), false, 'a second pass with nothing new writes nothing');
  const st = await meshctl(['waypoint', 'status', '-n', 'demo', '--config-dir', cfg]);
  assert.match(st.out, /waypoint\s+Programmed\s+True\s+Programmed/);
  const ok = await meshctl([
    'waypoint',
    'apply',
    '-n',
    'demo',
    '--for',
    'all',
    '--wait',
    '--timeout',
    '5',
    '--config-dir',
    cfg,
  ]);
  assert.match(ok.out, /programmed and serving/);

  // Route status, as Istio's controller writes it for GAMMA routes.
  await writeFile(
    join(cfg, 'service-demo-web.yaml'),
    'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: demo}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n',
  );
  await writeFile(
    join(cfg, 'httproute-demo-web.yaml'),
    'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: demo}\nspec:\n  parentRefs: [{group: "", kind: Service, name: web}]\n  rules: [{backendRefs: [{name: web, port: 80}, {name: gone, port: 80}]}]\n',
  );
  await ctl.reconcile();
  const route = parse(await readFile(join(cfg, 'httproute-demo-web.yaml'), 'utf8'));
  const conds = route.status.parents[0].conditions as Array<{
    type: string;
    status: string;
    reason: string;
    message: string;
  }>;
  assert.deepEqual(
    conds.map((c) => [c.type, c.status, c.reason]),
    [
      ['Accepted', 'True', 'Accepted'],
      ['ResolvedRefs', 'False', 'BackendNotFound'],
    ],
  );
  assert.match(conds[1]!.message, /demo\/gone/);

  const d = await meshctl(['waypoint', 'delete', 'waypoint', '-n', 'demo', '--config-dir', cfg]);
  assert.equal(d.code, 0, d.out);
  assert.equal(await ctl.reconcile(), true);
  const left = await readdir(cfg);
  assert.ok(!left.some((f) => f.includes('waypoint')), left.join());
  list = await meshctl(['waypoint', 'list', '-n', 'demo', '--config-dir', cfg]);
  assert.match(list.out, /No waypoints found in namespace demo/);
  assert.equal((await meshctl(['waypoint', 'delete', 'nope', '-n', 'demo', '--config-dir', cfg])).code, 1);
});
