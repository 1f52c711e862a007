/**
 * The local cluster as a user drives it (root): `meshctl up --detach`, then meshctl's commands with no
 * --config-dir act on it; the host routes pod and Service addresses into the fabric; istiod and the
 * ztunnels come back when killed, and the data path keeps serving while istiod is away; `meshctl down`
 * leaves no route behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST_SRC } from '../../../src/local/cluster/cluster.js';
import { readClusterFile, type ClusterFile } from '../../../src/local/cluster/state.js';
import { runCommand } from '../../../src/local/netns/index.js';
import { HOST_ROUTE_PROTO } from '../../../src/local/cluster/network.js';
import type { RateOutput } from '../../../bench/local/loadgen.js';
import { meshctl as runMeshctl, skip, sleep, waitFor } from './harness.js';

const NAME = `mlc${process.pid % 100000}`;

const HELLO = `apiVersion: apps/v1
kind: Deployment
metadata: {name: hello-with-a-name-longer-than-26-characters, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello}}
    spec:
      serviceAccountName: hello
      containers:
        - name: hello
          image: meshlite/echo
          command: [node, '$(MESHLITE_DIST)/local/apps/echo-main.js', --port, '8080']
`;

test(
  'meshctl acts on the running cluster; host routes; supervision keeps istiod and ztunnels up',
  { skip, timeout: 150_000 },
  async (t) => {
    const stateDir = await mkdtemp(join(tmpdir(), 'ml-ctx-'));
    // The user's environment: only the state directory differs from the defaults (no --config-dir).
    process.env.MESHLITE_STATE_DIR = stateDir;
    process.env.MESHLITE_CLUSTER = NAME;
    delete process.env.MESH_CONFIG_DIR;
    const env = process.env;
    const meshctl = (args: string[]): Promise<{ code: number; out: string }> => runMeshctl(args, env);
    t.after(async () => {
      await meshctl(['down']);
      await rm(stateDir, { recursive: true, force: true });
    });

    const up = await meshctl(['up', '--detach', '--ztunnel-drain', '20s']);
    assert.equal(up.code, 0, up.out);
    assert.match(up.out, /cluster ready/);
    const cluster = (): Promise<ClusterFile> => readClusterFile(stateDir).then((f) => f!);
    const f0 = await cluster();
    assert.equal(f0.configDir, join(stateDir, 'config'));
    const echo = f0.pods.find((p) => p.deployment === 'echo')!;
    const svc = f0.services.find((s) => s.name === 'echo')!;

    await t.test('apply, get and delete act on the cluster without --config-dir', async () => {
      const file = join(stateDir, 'hello.yaml');
      await writeFile(file, HELLO);
      const applied = await meshctl(['apply', '-f', file]);
      assert.match(applied.out, /deployment.apps\/hello-with-a-name-longer-than-26-characters created/);
      let listed = '';
      await waitFor('the two hello pods in meshctl get pods -A', async () => {
        listed = (await meshctl(['get', 'pods', '-A'])).out;
        return (listed.match(/hello-with-a-name-longer-than-26-characters-\d +Running/g) ?? []).length === 2;
      });
      // Columns size to the longest name; AGE is real (seconds since the pod was created).
      const header = listed.split('\n')[0]!;
      const row = listed.split('\n').find((l) => l.includes('-1 '))!;
      assert.equal(row.indexOf('Running'), header.indexOf('STATUS'), listed);
      assert.match(row, /\s\d+s$/, listed);
      const status = (await meshctl(['status'])).out;
      assert.match(
        status,
        /default\/hello-with-a-name-longer-than-26-characters-1 +10\.244\.\d+\.\d+ +node-/,
      );
      assert.match((await meshctl(['delete', '-f', file])).out, /deleted/);
      await waitFor('the hello pods to go', async () => {
        const out = (await meshctl(['get', 'pods', '-A'])).out;
        return !out.includes('hello-') && out.includes('echo-1');
      });
    });

    await t.test(
      'the host routes pod and Service addresses into the fabric, and nothing else of them',
      async () => {
        const via = async (ip: string): Promise<string> =>
          (await runCommand('ip', ['route', 'get', ip]).catch((e: Error) => ({ stdout: e.message }))).stdout;
        assert.match(await via(echo.ip), new RegExp(`dev ${NAME}-h `));
        assert.match(await via(svc.clusterIP), new RegExp(`dev ${NAME}-h `));
        // An address of the ranges that no node owns is unreachable, never the default route.
        assert.match(await via('10.244.77.7'), /No route to host|unreachable/);
        const body = await new Promise<string>((res, rej) =>
          execFile('curl', ['-s', '-m', '5', `http://${svc.clusterIP}:8080/from-host`], (e, out) =>
            e ? rej(e) : res(out),
          ),
        );
        assert.match(body, /"path": "\/from-host"/);
      },
    );

    await t.test('killing istiod: restarted within seconds; 0 failed requests meanwhile', async () => {
      const before = await cluster();
      // 5,000 requests on 4 keep-alive connections and 150 new connections, from the curl pod.
      const keepAlive = keepAliveLoad(svc.clusterIP, 1000, 5);
      const fresh = newConnections(150);
      await sleep(1000);
      process.kill(before.istiod.pid!, 'SIGKILL');
      const [rate, codes] = await Promise.all([keepAlive, fresh]);
      assert.equal(rate.errors, 0);
      assert.equal(rate.completed, 5000);
      assert.equal(codes.length, 150);
      assert.deepEqual(
        codes.filter((c) => c !== '200'),
        [],
      );
      await waitFor('istiod to be restarted', async () => {
        const f = await cluster();
        return f.istiod.restarts === 1 && f.istiod.pid !== undefined && f.istiod.pid !== before.istiod.pid;
      });
      assert.match((await meshctl(['status'])).out, /istiod +\S+ +running +1/);
    });

    await t.test('killing a ztunnel: restarted, pods handed over again, traffic flows', async () => {
      const before = await cluster();
      const node2 = before.nodes.find((n) => n.name === 'node-2')!;
      process.kill(node2.ztunnel.pid!, 'SIGKILL');
      await waitFor('ztunnel node-2 to be restarted', async () => {
        const n = (await cluster()).nodes.find((x) => x.name === 'node-2')!;
        return n.ztunnel.restarts === 1 && n.ztunnel.pid !== undefined;
      });
      let out = '';
      await waitFor('curl to echo through the new ztunnel', async () => {
        out = (
          await meshctl(['exec', 'default/curl', '--', 'curl', '-s', '-m', '3', 'http://echo:8080/again'])
        ).out;
        return out.includes('"path": "/again"');
      });
      assert.match((await meshctl(['status'])).out, /ztunnel node-2 +\S+ +running +1/);
    });

    await t.test(
      'rollout restart of both ztunnels under load: no failed new or long-lived connection',
      async () => {
        const before = await cluster();
        // 1,800 requests on 4 keep-alive connections (6 s) and 150 new connections, from the curl pod.
        const keepAlive = keepAliveLoad(svc.clusterIP, 300, 6);
        const fresh = newConnections(150);
        await sleep(1000);
        const rolled = await meshctl(['rollout', 'restart', 'ztunnel']);
        assert.equal(rolled.code, 0, rolled.out);
        assert.match(
          rolled.out,
          /ztunnel node-1: pid \d+ took over 1 pod\(s\); pid \d+ drains \(up to 20 s\)/,
        );
        assert.match(rolled.out, /ztunnel node-2: pid \d+ took over 1 pod\(s\)/);
        const [rate, codes] = await Promise.all([keepAlive, fresh]);
        assert.equal(rate.errors, 0, 'long-lived connections: no request failed');
        assert.equal(rate.completed, 1800);
        assert.deepEqual(
          codes.filter((c) => c !== '200'),
          [],
          'new connections: none refused',
        );
        assert.equal(codes.length, 150);
        const after = await cluster();
        for (const n of after.nodes) {
          const old = before.nodes.find((x) => x.name === n.name)!;
          assert.notEqual(n.ztunnel.pid, old.ztunnel.pid, `${n.name} runs a new ztunnel`);
        }
      },
    );

    await t.test('meshctl down removes the host routes', async () => {
      assert.match((await meshctl(['down'])).out, /is down/);
      const { stdout } = await runCommand('ip', ['route', 'show', 'proto', HOST_ROUTE_PROTO]);
      assert.equal(stdout.trim(), '');
    });
  },
);

/** `rate` req/s for `seconds` on 4 keep-alive connections from the curl pod to `ip`:8080 (the bench's load generator). */
function keepAliveLoad(ip: string, rate: number, seconds: number): Promise<RateOutput> {
  return execJson<RateOutput>(process.execPath, [
    join(DIST_SRC, 'meshctl/main.js'),
    'exec',
    'default/curl',
    '--',
    process.execPath,
    join(DIST_SRC, '../bench/local/loadgen.js'),
    ...['--mode', 'rate', '--host', ip, '--port', '8080', '--rate', String(rate)],
    ...['--conns', '4', '--seconds', String(seconds), '--warmup', '0'],
  ]);
}

/** `n` new connections from the curl pod (curl, one after another): their HTTP status codes. */
async function newConnections(n: number): Promise<string[]> {
  const out = await execText(process.execPath, [
    join(DIST_SRC, 'meshctl/main.js'),
    'exec',
    'default/curl',
    '--',
    'sh',
    '-c',
    `for i in $(seq ${n}); do curl -s -m 5 -o /dev/null -w "%{http_code}\\n" http://echo:8080/; sleep 0.02; done`,
  ]);
  return out.trim().split('\n');
}

function execText(file: string, args: string[]): Promise<string> {
  return new Promise((res, rej) =>
    execFile(file, args, { maxBuffer: 1 << 26 }, (e, out, err) =>
      e ? rej(new Error(`${args.join(' ')}: ${e.message} ${err}`)) : res(out),
    ),
  );
}

async function execJson<T>(file: string, args: string[]): Promise<T> {
  const out = await execText(file, args);
  return JSON.parse(out.trim().split('\n').pop()!) as T;
}
