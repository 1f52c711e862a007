/**
 * `meshctl up`: builds the local cluster (root: namespaces and capture), runs the demo, stays in the
 * foreground until Ctrl-C (then tears down), or returns once ready with --detach.
 */
import { spawn } from 'node:child_process';
import { openSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parsers } from '../../common/config.js';
import { errorMessage } from '../../common/errors.js';
import { parseCommand } from '../options.js';
import { LocalCluster, DIST_SRC } from '../../local/cluster/cluster.js';
import { defaultStateDir, readClusterFile } from '../../local/cluster/state.js';
import { preflight } from '../../local/cluster/preflight.js';
import { runDemo } from '../../local/cluster/demo.js';
import { serveControl } from '../../local/cluster/control.js';
import { startLoopbackCluster, runLoopbackDemo } from '../../local/cluster/loopback.js';
import { KubeCluster } from '../../local/kube/kube-cluster.js';
import { controlPlaneProblem } from '../../kube/control-plane.js';

export const CLUSTER_OPTIONS = {
  stateDir: {
    flag: 'state-dir',
    env: 'MESHLITE_STATE_DIR',
    doc: 'where the cluster keeps its config, CA, tokens, logs and cluster.json',
    default: defaultStateDir(),
    parse: parsers.string,
  },
  name: {
    flag: 'name',
    env: 'MESHLITE_CLUSTER',
    doc: 'cluster name: prefix of every namespace and link it creates (1-10 lowercase letters/digits)',
    default: 'ml',
    parse: parsers.string,
  },
};

const schema = {
  ...CLUSTER_OPTIONS,
  nodes: { flag: 'nodes', doc: 'number of nodes', default: 2, parse: parsers.int(1, 8) },
  config: {
    flag: 'config',
    doc: 'directory of objects to deploy (Namespaces, Deployments, Pods, Services, policies)',
    default: resolve(DIST_SRC, '../../deploy/local'),
    parse: parsers.string,
  },
  detach: {
    flag: 'detach',
    doc: 'return once the cluster is ready',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
  loopback: {
    flag: 'loopback',
    doc: 'run the loopback cluster (no root needed: pods are 127.x IPs, SOCKS5 instead of capture) even as root',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
  kubernetes: {
    flag: 'kubernetes',
    doc: 'drive the nodes and pods from a real Kubernetes control plane (scripts/kube-control-plane.sh builds it once); install the mesh with meshctl install',
    default: false,
    parse: parsers.bool,
    boolean: true,
  },
  demo: {
    flag: 'demo',
    doc: 'run the demo requests once ready',
    default: true,
    parse: parsers.bool,
    boolean: true,
  },
  ztunnelDrain: {
    flag: 'ztunnel-drain',
    doc: 'how long a stopping ztunnel (rollout, down) lets open connections finish',
    default: 5_000,
    parse: parsers.duration,
  },
  logLevel: {
    flag: 'log-level',
    doc: 'log level of istiod and the ztunnels',
    default: 'info',
    parse: parsers.string,
  },
};

const USAGE = `Usage: meshctl up [--nodes N] [--config DIR] [--detach] [--state-dir DIR]
       meshctl up --kubernetes [--nodes N] [--detach] [--state-dir DIR]

Builds a local cluster: one network namespace per node, one per pod, istiod on the host, a ztunnel per
node capturing the ambient pods' traffic with nftables rules inside the pods' namespaces. Runs the demo
(curl on node-1 -> echo on node-2) and prints what happened. Needs root, ip (iproute2), nft and the
native addon; without them (or with --loopback) it runs the same demo in loopback mode and says why.

istiod and the ztunnels are restarted when they exit (backoff 1 s doubling to 30 s), containers too.
While the cluster runs the host routes its pod range (10.244.0.0/16) and Service range (10.96.0.0/16)
into it. meshctl's other commands act on this cluster (its config directory, istiod and ztunnels).
In the foreground Ctrl-C tears everything down; --detach returns once the cluster is ready.

--kubernetes: the same nodes and pods, driven by a real Kubernetes control plane (etcd, kube-apiserver
on 10.244.255.1, controller manager, scheduler; built once by scripts/kube-control-plane.sh). This
process registers the Node objects and plays each node's kubelet, kube-proxy and the cluster DNS; it
writes an admin kubeconfig and prints \`export KUBECONFIG=...\`. No mesh is installed: run
\`meshctl install\` (or kubectl apply the manifests), then label a namespace ambient.`;

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(USAGE, schema, argv);
  if (!args) return 0;
  const c = args.config;
  const out = (s: string): void => void process.stdout.write(`${s}\n`);
  const pre = c.loopback ? { ok: false, missing: [] } : await preflight();
  if (!pre.ok && !c.loopback) {
    out(`meshctl up: the namespace cluster needs ${pre.missing.join(', ')}.`);
    out(
      `Running the same demo in loopback mode instead: pods are 127.x IPs, apps use their node ztunnel's SOCKS5 (no capture). ${SETUP_HINT}\n`,
    );
  }
  if (c.kubernetes && !pre.ok) {
    out(
      `meshctl up --kubernetes: needs ${pre.missing.join(', ')} (there is no loopback mode for it). ${SETUP_HINT}`,
    );
    return 1;
  }
  if (c.detach) return detach(argv, c.stateDir, out);
  if (c.kubernetes) return runKubernetes(c, out);
  if (!pre.ok) return runLoopback(c.stateDir, c.demo, out);
  const cluster = new LocalCluster({
    name: c.name,
    stateDir: c.stateDir,
    nodes: c.nodes,
    configDir: c.config,
    logLevel: c.logLevel,
    ztunnelDrain: c.ztunnelDrain,
    progress: (m) => out(`  ${m}`),
  });
  const stop = stopOnSignals(cluster, out);
  try {
    out(`meshctl up: cluster "${c.name}", ${c.nodes} nodes, objects from ${c.config}`);
    await cluster.start();
    if (c.demo) await runDemo(cluster, out);
    await serveControl(c.stateDir, (req, progress) =>
      req.target === 'deployment'
        ? cluster.restartDeployment(req.namespace ?? 'default', req.name ?? '', progress)
        : cluster.rolloutZtunnels(req.node, progress),
    );
    await cluster.writeClusterFile(true);
    cluster.watch();
  } catch (err) {
    out(`meshctl up: ${errorMessage(err)}; tearing down (logs kept in ${join(c.stateDir, 'logs')})`);
    await stop();
    return 1;
  }
  out(`\ncluster ready (state in ${c.stateDir}). Ctrl-C tears it down. meshctl acts on it, e.g.:`);
  out(`  meshctl exec default/curl -- curl -s http://echo:8080/`);
  out(`  meshctl get pods -A   |   meshctl status   |   meshctl down`);
  const echo = cluster.pods.find((x) => x.deployment === 'echo');
  if (echo)
    out(
      `  curl http://${echo.ip}:8080/   (from the host: the host routes pod and Service IPs into the cluster)`,
    );
  out(`  meshctl label namespace default istio.io/dataplane-mode-`);
  await new Promise<void>(() => undefined);
  return 0;
}

const SETUP_HINT = 'On Debian/Ubuntu, `bash scripts/system-packages.sh` (as root) installs what is missing.';

/** `--detach`: runs `meshctl up` in the background (either mode) and returns once it is ready. */
async function detach(argv: string[], stateDir: string, out: (s: string) => void): Promise<number> {
  mkdirSync(stateDir, { recursive: true });
  const logFile = join(stateDir, 'up.log');
  const log = openSync(logFile, 'a');
  const rest = argv.filter((a) => a !== '--detach');
  const child = spawn(process.execPath, [join(DIST_SRC, 'meshctl/main.js'), 'up', ...rest], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  child.unref();
  out(`meshctl up: starting in the background (pid ${child.pid}); log: ${logFile}`);
  // The control plane's first start (etcd, the API server) takes longer than the file-driven cluster.
  const end = Date.now() + (rest.includes('--kubernetes') ? 300_000 : 120_000);
  while (Date.now() < end) {
    const f = await readClusterFile(stateDir);
    if (f?.ready && f.pid === child.pid) {
      const kube = (f as { kubernetes?: { kubeconfig: string } }).kubernetes;
      if (kube) {
        out(`Kubernetes cluster ready; install the mesh with meshctl install. meshctl down removes it.`);
        out(`export KUBECONFIG=${kube.kubeconfig}`);
        return 0;
      }
      out(
        f.mode === 'capture'
          ? 'cluster ready. Try: meshctl exec default/curl -- curl -s http://echo:8080/   |  meshctl status  |  meshctl down'
          : 'loopback cluster ready. Try: meshctl status  |  meshctl ztunnel-config workloads  |  meshctl down',
      );
      return 0;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  out(`meshctl up: the cluster did not become ready; see ${logFile}`);
  return 1;
}

async function runLoopback(stateDir: string, demo: boolean, out: (s: string) => void): Promise<number> {
  const c = await startLoopbackCluster(stateDir, out);
  const ok = demo ? await runLoopbackDemo(c, out) : true;
  await c.markReady();
  const onSignal = (): void => {
    out('\nmeshctl up: stopping the loopback cluster');
    void c.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  out(
    `\nloopback cluster ${ok ? 'ready' : 'up, but the demo failed'} (logs in ${join(stateDir, 'loopback', 'logs')}). Ctrl-C stops it.`,
  );
  out('  curl --interface 127.10.1.2 --socks5-hostname 127.0.1.1:15080 http://echo:8080/');
  out('  meshctl status   |   meshctl ztunnel-config workloads   |   meshctl down');
  await new Promise<void>(() => undefined);
  return 0;
}

async function runKubernetes(
  c: { name: string; stateDir: string; nodes: number },
  out: (s: string) => void,
): Promise<number> {
  const problem = controlPlaneProblem();
  if (problem) {
    out(`meshctl up --kubernetes: ${problem}`);
    return 1;
  }
  const cluster = new KubeCluster({
    name: c.name,
    stateDir: c.stateDir,
    nodes: c.nodes,
    progress: (m) => out(`  ${m}`),
  });
  const stop = stopOnSignals(cluster, out);
  try {
    out(`meshctl up --kubernetes: cluster "${c.name}", ${c.nodes} nodes`);
    await cluster.start();
  } catch (err) {
    out(`meshctl up: ${errorMessage(err)}; tearing down`);
    await stop();
    return 1;
  }
  out(`\nKubernetes cluster ready (state in ${c.stateDir}). Ctrl-C tears it down.`);
  out(`export KUBECONFIG=${cluster.kubeconfig}`);
  out(
    `  kubectl get nodes   |   meshctl install   |   kubectl label namespace default istio.io/dataplane-mode=ambient`,
  );
  out(`  meshctl exec default/<deployment> -- curl -s http://echo:8080/   |   meshctl down`);
  await new Promise<void>(() => undefined);
  return 0;
}

/** Ctrl-C or SIGTERM tears the cluster down and exits; the returned stop does it once, whoever calls. */
function stopOnSignals(cluster: { stop(): Promise<void> }, out: (m: string) => void): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= cluster.stop());
  const onSignal = (): void => {
    out('\nmeshctl up: tearing down');
    void stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return stop;
}
