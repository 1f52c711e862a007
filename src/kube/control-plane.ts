/**
 * A real Kubernetes control plane on loopback: etcd (Debian's etcd-server) and kube-apiserver,
 * kube-controller-manager and kube-scheduler built once from Debian's source package by
 * scripts/kube-control-plane.sh. It generates its certificates (a CA and the API server's serving
 * certificate), the service-account signing key pair and an admin token, writes an admin kubeconfig,
 * starts the processes with their logs in the state directory, waits for /readyz, and stops them.
 * See docs/kubernetes.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { MeshError } from '../common/errors.js';
import { createRootCa, issueLeaf } from '../pki/ca.js';

export const KUBE_BINARIES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
/** The build revision of scripts/kube-control-plane.sh (BUILD_REV): older builds are not used. */
export const KUBE_BUILD_REV = 'r2';
/** The name in the API server's certificate; clients reach 127.0.0.1 and check this name. */
export const API_SERVER_NAME = 'localhost';
const SA_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** Where the one-time build caches the binaries (the directory holding them), or undefined. */
export function cachedKubeBinaries(env = process.env): string | undefined {
  const root = env.MESHLITE_KUBE_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'meshlite');
  if (!existsSync(root)) return undefined;
  return readdirSync(root)
    .filter((n) => n.startsWith('kubernetes-') && n.endsWith(`-${KUBE_BUILD_REV}`))
    .sort()
    .map((n) => join(root, n))
    .find((d) => existsSync(join(d, '.complete')));
}

/** Why the control plane cannot start here (binaries or etcd missing), or undefined when it can. */
export function controlPlaneProblem(binDir = cachedKubeBinaries()): string | undefined {
  if (!binDir)
    return 'the Kubernetes control plane is not built: run scripts/kube-control-plane.sh (one-time, 10-25 minutes)';
  for (const b of KUBE_BINARIES)
    if (!existsSync(join(binDir, b)))
      return `${join(binDir, b)} is missing: run scripts/kube-control-plane.sh`;
  if (!etcdPath())
    return 'etcd is not installed: apt-get install etcd-server (scripts/kube-control-plane.sh does)';
  return undefined;
}

function etcdPath(): string | undefined {
  return ['/usr/bin/etcd', '/usr/local/bin/etcd'].find((p) => existsSync(p));
}

export interface ControlPlaneOptions {
  /** Directory with the three binaries; default the cache of scripts/kube-control-plane.sh. */
  binDir?: string;
  /** Also start kube-controller-manager and kube-scheduler (default true). */
  controllers?: boolean;
  /** How long to wait for /readyz (default 120 s: the first start of etcd and the API server on a busy machine). */
  readyTimeoutMs?: number;
  /**
   * The address the API server binds and advertises (default 127.0.0.1). `meshctl up --kubernetes`
   * gives the fabric's host address, so processes in the node and pod namespaces reach it.
   */
  bindAddress?: string;
}

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
  exited: Promise<number | null>;
}

/** A free TCP port on 127.0.0.1 (the OS picks; released before the process binds it). */
async function freePort(host = '127.0.0.1'): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, host, () => resolve());
  });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export class KubeControlPlane {
  /** The API server's URL, e.g. https://127.0.0.1:6443 */
  readonly server: string;
  /** The admin kubeconfig (full access, group system:masters). */
  readonly kubeconfigPath: string;
  private readonly procs: Proc[] = [];
  private stopped = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly binDir: string,
    readonly bindAddress = '127.0.0.1',
  ) {
    this.server = `https://${bindAddress}:${port}`;
    this.kubeconfigPath = join(dir, 'admin.kubeconfig');
  }

  /** Starts etcd, the API server (and the controller manager and scheduler) and waits until ready. */
  static async start(opts: ControlPlaneOptions = {}): Promise<KubeControlPlane> {
    const binDir = opts.binDir ?? cachedKubeBinaries();
    const problem = controlPlaneProblem(binDir);
    if (problem || !binDir) throw new MeshError('KUBE_ERR_NOT_BUILT', problem ?? 'not built');
    const dir = await mkdtemp(join(tmpdir(), 'meshlite-kube-'));
    const cp = new KubeControlPlane(dir, await freePort(opts.bindAddress), binDir, opts.bindAddress);
    try {
      await cp.boot(opts);
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  private async boot(opts: ControlPlaneOptions): Promise<void> {
    const d = (f: string) => join(this.dir, f);
    // Certificates: a CA and the API server's serving certificate (EC P-256) for the in-cluster names.
    const ca = createRootCa({ commonName: 'meshlite-kubernetes-ca' });
    const serving = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const servingCert = issueLeaf(ca, {
      publicKey: serving.publicKey,
      dnsNames: [
        API_SERVER_NAME,
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
      validityMs: 30 * 24 * 3600_000,
      commonName: 'kube-apiserver',
    });
    // Service-account tokens: the API server signs them with this key, checks them with its public half.
    const sa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = randomBytes(24).toString('hex');
    await Promise.all([
      writeFile(d('ca.crt'), ca.rootPem),
      writeFile(d('apiserver.crt'), servingCert),
      writeFile(d('apiserver.key'), serving.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
        mode: 0o600,
      }),
      writeFile(d('sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 }),
      writeFile(d('sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' })),
      writeFile(d('tokens.csv'), `${token},admin,admin,"system:masters"\n`, { mode: 0o600 }),
    ]);
    await writeFile(this.kubeconfigPath, this.kubeconfig(token, ca.rootPem), { mode: 0o600 });

    const etcdClient = await freePort();
    const etcdPeer = await freePort();
    this.run('etcd', etcdPath()!, [
      `--data-dir=${d('etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--listen-metrics-urls=',
    ]);
    this.run('kube-apiserver', join(this.binDir, 'kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--bind-address=${this.bindAddress}`,
      `--advertise-address=${this.bindAddress}`,
      `--secure-port=${this.port}`,
      '--insecure-port=0',
      `--cert-dir=${d('apiserver-certs')}`,
      `--tls-cert-file=${d('apiserver.crt')}`,
      `--tls-private-key-file=${d('apiserver.key')}`,
      `--client-ca-file=${d('ca.crt')}`,
      `--token-auth-file=${d('tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-issuer=${SA_ISSUER}`,
      `--service-account-key-file=${d('sa.pub')}`,
      `--service-account-signing-key-file=${d('sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
    ]);
    await this.waitReady(opts.readyTimeoutMs ?? 120_000);
    if (opts.controllers ?? true) {
      const kc = `--kubeconfig=${this.kubeconfigPath}`;
      this.run('kube-controller-manager', join(this.binDir, 'kube-controller-manager'), [
        kc,
        '--leader-elect=false',
        '--port=0',
        '--secure-port=0',
        `--service-account-private-key-file=${d('sa.key')}`,
        `--root-ca-file=${d('ca.crt')}`,
        '--use-service-account-credentials=false',
      ]);
      this.run('kube-scheduler', join(this.binDir, 'kube-scheduler'), [
        kc,
        '--leader-elect=false',
        '--port=0',
        '--secure-port=0',
      ]);
    }
  }

  private kubeconfig(token: string, caPem: string): string {
    return stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'meshlite',
          cluster: {
            server: this.server,
            'certificate-authority-data': Buffer.from(caPem).toString('base64'),
            'tls-server-name': API_SERVER_NAME,
          },
        },
      ],
      users: [{ name: 'admin', user: { token } }],
      contexts: [{ name: 'meshlite', context: { cluster: 'meshlite', user: 'admin' } }],
      'current-context': 'meshlite',
    });
  }

  private run(name: string, bin: string, args: string[]): void {
    const log = join(this.dir, `${name}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd], cwd: this.dir });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(-1));
    });
    this.procs.push({ name, child, log, exited });
  }

  /** Polls /readyz with the admin token until it answers 200; fails early when a process exits. */
  private async waitReady(timeoutMs: number): Promise<void> {
    const { KubeConfig, Health } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    const health = new Health(kc);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const dead = this.procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
      if (dead) throw new MeshError('KUBE_ERR_START', `${dead.name} exited: ${await this.tail(dead)}`);
      const ready = await health.readyz({ signal: AbortSignal.timeout(2000) }).catch(() => false);
      if (ready) return;
      if (Date.now() > deadline)
        throw new MeshError(
          'KUBE_ERR_START',
          `the API server was not ready after ${timeoutMs} ms; its log ends: ${await this.tail(this.procs[1]!)}`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The last lines of a process's log (for error messages). */
  async tail(p: Proc, lines = 8): Promise<string> {
    const text = await readFile(p.log, 'utf8').catch(() => '');
    return text.trim().split('\n').slice(-lines).join('\n');
  }

  /** The pids of its processes (a crashed owner's cleanup kills them). */
  get pids(): number[] {
    return this.procs.map((p) => p.child.pid ?? 0).filter((x) => x > 0);
  }

  /** Stops the processes (scheduler and controller manager first, etcd last) and removes the state. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of [...this.procs].reverse()) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      const killer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
      await p.exited;
      clearTimeout(killer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
