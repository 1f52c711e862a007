/**
 * The local cluster end to end (root): namespaces per node and pod, capture by nftables in the pods,
 * istiod + one ztunnel per node as processes. One cluster for the file (bringing one up takes a few
 * seconds); the subtests run in order and the last one tears it down and checks nothing is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalCluster, DIST_SRC, copyDemo } from '../../../src/local/cluster/cluster.js';
import { curlFrom } from '../../../src/local/cluster/demo.js';
import { findLeftovers, isEmpty, runCommand } from '../../../src/local/netns/index.js';
import { skip, sleep, waitFor } from './harness.js';

const NAME = `mlt${process.pid % 100000}`;

async function setNamespaceAmbient(cfgDir: string, on: boolean): Promise<void> {
  const file = join(cfgDir, 'namespace-default.yaml');
  const labels = on ? '\n  labels:\n    istio.io/dataplane-mode: ambient' : '';
  await writeFile(file, `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default${labels}\n`);
}

function accessLines(c: LocalCluster, node: string): Array<Record<string, unknown>> {
  return c.ztunnels.get(node)!.proc.lines.filter((l) => l.access === true);
}

test(
  'local cluster: capture, identities, runtime enrolment, policy, no plaintext, clean teardown',
  { skip, timeout: 150_000 },
  async (t) => {
    const stateDir = await mkdtemp(join(tmpdir(), 'ml-e2e-'));
    // The demo plus a pod outside the mesh (namespace legacy, on node-1) for scenario 5.
    const configDir = join(stateDir, 'deploy');
    const root = resolve(DIST_SRC, '../..');
    await copyDemo(join(root, 'deploy/local'), configDir, ['demo.yaml']);
    await copyFile(join(root, 'test/e2e/local/fixtures/legacy.yaml'), join(configDir, 'legacy.yaml'));
    const cluster = new LocalCluster({
      name: NAME,
      stateDir,
      nodes: 2,
      configDir,
      progress: () => undefined,
      logLevel: 'info',
    });
    let down = false;
    t.after(async () => {
      if (!down) await cluster.stop();
      await rm(stateDir, { recursive: true, force: true });
    });
    await cluster.start();
    const cfg = cluster.dirs.config;
    const echo = cluster.pods.find((p) => p.deployment === 'echo')!;
    const curlPod = cluster.pods.find((p) => p.deployment === 'curl')!;
    assert.notEqual(echo.node, curlPod.node);

    await t.test(
      '(1) curl on node-1 reaches echo on node-2 by name and pod IP; both ztunnels log both identities',
      async () => {
        const byName = await curlFrom(cluster, 'default/curl', 'http://echo:8080/');
        assert.ok(byName.ok, byName.body);
        assert.match(byName.body, /"servedBy": "echo-1"/);
        // The client's address reaches the app through the mesh (a transparent socket in the pod).
        assert.match(
          byName.body,
          new RegExp(`"peer": "${curlPod.ip.replace(/\./g, '\\.')}:`),
          'through the mesh: echo sees the curl pod, not its own address',
        );
        const byIp = await curlFrom(cluster, 'default/curl', `http://${echo.ip}:8080/`);
        assert.ok(byIp.ok, byIp.body);
        await waitFor('access logs', () => accessLines(cluster, 'node-2').length >= 2);
        for (const [node, dir] of [
          [curlPod.node, 'outbound'],
          [echo.node, 'inbound'],
        ] as const) {
          const l = accessLines(cluster, node).find((x) => x.direction === dir && x.result === 'ok');
          assert.ok(l, `${node} has an ${dir} access line`);
          assert.equal(l.src_identity, 'spiffe://cluster.local/ns/default/sa/curl');
          assert.equal(l.dst_identity, 'spiffe://cluster.local/ns/default/sa/echo');
        }
      },
    );

    await t.test(
      '(7) a Deployment applied to the running cluster gets enrolled pods; deleting it removes them',
      async () => {
        cluster.watch(250);
        const file = join(stateDir, 'hello.yaml');
        await writeFile(
          file,
          `apiVersion: apps/v1
kind: Deployment
metadata: {name: hello, namespace: default}
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
          ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: hello, namespace: default}
spec: {selector: {app: hello}, ports: [{name: http, port: 8080, targetPort: 8080}]}
`,
        );
        const meshctl = (args: string[]): Promise<string> =>
          new Promise((res) =>
            execFile(process.execPath, [join(DIST_SRC, 'meshctl/main.js'), ...args], (_e, out, err) =>
              res(`${out}${err}`),
            ),
          );
        assert.match(
          await meshctl(['apply', '--config-dir', cfg, '-f', file]),
          /deployment.apps\/hello created/,
        );
        await waitFor(
          'the hello pods to run',
          () => cluster.pods.filter((p) => p.deployment === 'hello').length === 2,
        );
        let reply = { ok: false, body: '' };
        await waitFor('curl to reach hello by name', async () => {
          reply = await curlFrom(cluster, 'default/curl', 'http://hello:8080/');
          return reply.ok;
        });
        assert.match(reply.body, /"servedBy": "hello-[12]"/);
        await waitFor('a hello ztunnel inbound record', () =>
          [...cluster.ztunnels.keys()].some((n) =>
            accessLines(cluster, n).some(
              (l) =>
                l.direction === 'inbound' && l.dst_identity === 'spiffe://cluster.local/ns/default/sa/hello',
            ),
          ),
        );
        await meshctl(['delete', '--config-dir', cfg, '-f', file]);
        await waitFor('the hello pods to go', () => cluster.pods.every((p) => p.deployment !== 'hello'));
      },
    );

    await t.test('(2) no plaintext on the node link while ambient; plaintext when not', async () => {
      const sniff = async (marker: string): Promise<string> => {
        const dump = spawn(
          'ip',
          ['netns', 'exec', cluster.nodes[0]!.netns, 'tcpdump', '-i', 'eth0', '-A', '-l', '-n', 'tcp'],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let text = '';
        dump.stdout.on('data', (d: Buffer) => (text += d.toString('latin1')));
        let started = false;
        dump.stderr.on('data', (d: Buffer) => (started ||= d.toString().includes('listening')));
        await waitFor('tcpdump start', () => started, 5000);
        const r = await curlFrom(cluster, 'default/curl', `http://echo:8080/?marker=${marker}`);
        assert.ok(r.ok, r.body);
        await sleep(500);
        dump.kill('SIGTERM');
        await new Promise((r2) => dump.once('exit', r2));
        return text;
      };
      const tcpdump = await runCommand('tcpdump', ['--version']).then(
        () => true,
        () => false,
      );
      if (!tcpdump) return assert.fail('tcpdump is not installed (apt-get install tcpdump)');
      const secret = `meshsecret${process.pid}a`;
      assert.ok(
        !(await sniff(secret)).includes(secret),
        'the marker must not appear in plaintext while ambient',
      );
      await setNamespaceAmbient(cfg, false);
      await waitFor('release', () => accessLines(cluster, 'node-1').length >= 0 && releasedBoth(cluster));
      const open = `meshopen${process.pid}b`;
      assert.ok((await sniff(open)).includes(open), 'the marker appears in plaintext outside the mesh');
      await setNamespaceAmbient(cfg, true);
      await waitFor('enrolment', () => enrolledCount(cluster) >= 4);
    });

    await t.test(
      '(3) unlabel / relabel at runtime releases and enrolls running pods without restarts',
      async () => {
        const pids = cluster.pods.map((p) => p.runner.pids.join(','));
        await setNamespaceAmbient(cfg, false);
        await waitFor('release', () => releasedBoth(cluster));
        const direct = await curlFrom(cluster, 'default/curl', 'http://echo:8080/');
        assert.ok(direct.ok, direct.body);
        assert.match(
          direct.body,
          new RegExp(`"peer": "${curlPod.ip.replace(/\./g, '\\.')}:`),
          'direct: echo sees the client pod',
        );
        const before = accessLines(cluster, 'node-2').length;
        await setNamespaceAmbient(cfg, true);
        await waitFor('enrolment', () => enrolledCount(cluster) >= 6);
        const meshed = await curlFrom(cluster, 'default/curl', 'http://echo:8080/');
        assert.ok(meshed.ok, meshed.body);
        await waitFor('a new inbound access line', () => accessLines(cluster, 'node-2').length > before);
        assert.deepEqual(
          cluster.pods.map((p) => p.runner.pids.join(',')),
          pids,
          'no pod restarted',
        );
      },
    );

    await t.test('(4) DENY for the client stops new connections and closes a live one', async () => {
      const live = spawn(
        'ip',
        ['netns', 'exec', curlPod.netns, 'curl', '-sS', '--max-time', '12', 'http://echo:8080/delay/8'],
        { stdio: 'ignore' },
      );
      const liveExit = new Promise<number | null>((r) => live.once('exit', (c) => r(c)));
      await sleep(1500);
      const policy = join(cfg, 'authorizationpolicy-default-deny-curl.yaml');
      await writeFile(
        policy,
        `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-curl, namespace: default}
spec:
  selector: {matchLabels: {app: echo}}
  action: DENY
  rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/curl"]}}]}]
`,
      );
      const code = await liveExit;
      assert.notEqual(code, 0, 'the live connection was closed');
      const denied = await curlFrom(cluster, 'default/curl', 'http://echo:8080/', 2);
      assert.equal(denied.ok, false);
      await rm(policy);
      await waitFor(
        'allowed again',
        async () => (await curlFrom(cluster, 'default/curl', 'http://echo:8080/', 1)).ok,
      );
    });

    await t.test(
      '(5) PeerAuthentication STRICT refuses a pod outside the mesh; PERMISSIVE lets it in',
      async () => {
        const legacy = cluster.pods.find((p) => p.namespace === 'legacy')!;
        assert.equal(legacy.node, curlPod.node, 'the legacy pod sits on node-1, echo on node-2');
        const fromLegacy = (url: string, attempts = 1) => curlFrom(cluster, 'legacy/legacy', url, attempts);
        const open = await fromLegacy('http://echo.default:8080/', 3);
        assert.ok(
          open.ok,
          `no PeerAuthentication: plaintext from outside the mesh is accepted: ${open.body}`,
        );
        const pa = join(cfg, 'peerauthentication-default-default.yaml');
        const setMode = (mode: string): Promise<void> =>
          writeFile(
            pa,
            `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: default}\nspec:\n  mtls: {mode: ${mode}}\n`,
          );
        await setMode('STRICT');
        await waitFor(
          'STRICT refuses the legacy pod',
          async () => !(await fromLegacy('http://echo.default:8080/')).ok,
        );
        assert.equal((await fromLegacy(`http://${echo.ip}:8080/`)).ok, false, 'by pod IP too');
        const meshed = await curlFrom(cluster, 'default/curl', 'http://echo:8080/', 3);
        assert.ok(meshed.ok, `STRICT still admits the mesh client over HBONE: ${meshed.body}`);
        await setMode('PERMISSIVE');
        await waitFor(
          'PERMISSIVE admits the legacy pod',
          async () => (await fromLegacy('http://echo.default:8080/')).ok,
        );
        const byIp = await fromLegacy(`http://${echo.ip}:8080/`, 3);
        assert.ok(byIp.ok, byIp.body);
        assert.match(byIp.body, /"servedBy": "echo-1"/);
        await rm(pa);
      },
    );

    await t.test('(6) teardown leaves nothing behind', async () => {
      const pids = [
        cluster.istiod!.proc.child.pid,
        ...[...cluster.ztunnels.values()].map((z) => z.proc.child.pid),
        ...cluster.pods.flatMap((p) => p.runner.pids),
      ];
      await cluster.stop();
      down = true;
      const left = await findLeftovers(`${NAME}-`);
      assert.ok(isEmpty(left), `leftovers: ${JSON.stringify(left)}`);
      for (const p of cluster.pods) assert.equal(existsSync(`/etc/netns/${p.netns}`), false);
      for (const pid of pids) assert.throws(() => process.kill(pid!, 0), `process ${pid} is gone`);
      const hostAddrs = await runCommand('ip', ['-j', 'addr', 'show']);
      assert.equal(hostAddrs.stdout.includes('10.244.255.1'), false);
      assert.equal(await readFile(join(stateDir, 'cluster.json'), 'utf8').catch(() => 'gone'), 'gone');
    });
  },
);

function countLog(c: LocalCluster, msg: string): number {
  let n = 0;
  for (const z of c.ztunnels.values()) n += z.proc.lines.filter((l) => l.msg === msg).length;
  return n;
}
const enrolledCount = (c: LocalCluster): number =>
  countLog(c, 'capture: pod enrolled (rules and listeners in its namespace)');
let releasedSeen = 0;
function releasedBoth(c: LocalCluster): boolean {
  const n = countLog(c, 'capture: pod released (rules and listeners removed)');
  if (n >= releasedSeen + 2) {
    releasedSeen = n;
    return true;
  }
  return false;
}
