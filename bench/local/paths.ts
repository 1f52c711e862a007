/**
 * The paths `meshctl bench` measures, each on its own pair of pods (curl on node-1 -> Service echo ->
 * echo on node-2), all pairs side by side for the whole run, so switching mode never re-enrolls or
 * recreates a pod:
 *
 * - ambient / waypoint: default/curl -> Service default/echo, namespace default ambient (enrolled at
 *   the start if it is not); `istio.io/use-waypoint` on the namespace is switched at runtime, as a user
 *   would; the waypoint is created if missing; labels restored and the waypoint deleted at the end.
 * - sidecar: bench-sidecar/curl -> Service bench-sidecar/echo, both injected (bench-pods.ts).
 * - no-mesh / haproxy / haproxy-http: bench-plain/curl -> bench-plain/echo, out of the mesh; the
 *   haproxies in those pods (and H in bench-plain/hop on node-1).
 */
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { DIST_SRC } from '../../src/local/cluster/cluster.js';
import { readClusterFile, type ClusterFile } from '../../src/local/cluster/state.js';
import { runCommand } from '../../src/local/netns/index.js';
import {
  BenchObjects,
  PLAIN_NS,
  SIDECAR_NS,
  plainPairObjects,
  sidecarPairObjects,
  sidecarPid,
  waitForNoPods,
  waitForPods,
} from './bench-pods.js';
import {
  HAPROXY_A2_PORT,
  HAPROXY_A_PORT,
  startHaproxyHttpHop,
  startHaproxyPair,
  type HaproxyPair,
} from './haproxy-pair.js';
import { ProcWatch } from './proc-stats.js';
import type { Mode } from './summary.js';

const LABEL = 'istio.io/dataplane-mode';
const USE_WAYPOINT = 'istio.io/use-waypoint';
const WAYPOINT = 'waypoint';

type Pod = ClusterFile['pods'][number];
type Svc = ClusterFile['services'][number];

/**
 * The Namespace object file istiod watches; the labels decide ambient or not and whether its services
 * use the waypoint (at runtime).
 */
export async function setAmbient(configDir: string, on: boolean, waypoint = false): Promise<void> {
  const file = join(configDir, 'namespace-default.yaml');
  const obj = (parse(await readFile(file, 'utf8').catch(() => '')) ?? {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: 'default' },
  }) as { metadata: { labels?: Record<string, string> } };
  const labels = { ...(obj.metadata.labels ?? {}) };
  if (on) labels[LABEL] = 'ambient';
  else delete labels[LABEL];
  if (on && waypoint) labels[USE_WAYPOINT] = WAYPOINT;
  else delete labels[USE_WAYPOINT];
  obj.metadata.labels = labels;
  await writeFile(file, stringify(obj));
}

export async function isAmbient(configDir: string): Promise<boolean> {
  const text = await readFile(join(configDir, 'namespace-default.yaml'), 'utf8').catch(() => '');
  const obj = parse(text) as { metadata?: { labels?: Record<string, string> } } | null;
  return obj?.metadata?.labels?.[LABEL] === 'ambient';
}

export async function captured(netns: string): Promise<boolean> {
  return runCommand('ip', ['netns', 'exec', netns, 'nft', 'list', 'table', 'ip', 'ztunnel_capture']).then(
    () => true,
    () => false,
  );
}

export async function waitUntil(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`meshctl bench: timed out waiting for ${what}; see the ztunnel and pod logs`);
}

/** `meshctl ARGS` as a user runs it; its exit code and output. */
export async function meshctl(args: string[]): Promise<{ code: number; out: string }> {
  const child = spawn(process.execPath, [join(DIST_SRC, 'meshctl/main.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code: code ?? 1, out };
}

/**
 * Runs the load generator in a client pod (`ns/deployment`) as `meshctl exec` would (inside the pod's
 * network namespace, so its traffic takes the pod's real path), without meshctl's own start-up per
 * run; returns its JSON.
 */
export async function loadgen<T>(stateDir: string, args: string[], pod = 'default/curl'): Promise<T> {
  const [ns, name] = pod.split('/');
  const target = (await readClusterFile(stateDir))?.pods.find(
    (p) => p.namespace === ns && (p.deployment === name || p.name === name),
  );
  if (!target) throw new Error(`meshctl bench: no pod ${pod} in the cluster; see meshctl status`);
  const child = spawn(
    'ip',
    ['netns', 'exec', target.netns, process.execPath, join(DIST_SRC, '../bench/local/loadgen.js'), ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{'))
    throw new Error(`meshctl bench: the load generator failed (${code}): ${err.trim()}`);
  return JSON.parse(line) as T;
}

/** Whether `url` answers 200 from inside `netns` (and what it said). */
async function curl(netns: string, url: string): Promise<string | undefined> {
  return runCommand('ip', ['netns', 'exec', netns, 'curl', '-sSf', '--max-time', '2', url]).then(
    (r) => r.stdout,
    () => undefined,
  );
}

interface Pair {
  client: Pod;
  server: Pod;
  svc: Svc;
  hop?: Pod;
}

export class BenchPaths {
  /** The ambient pair (namespace default). */
  readonly amb: Pair;
  readonly configDir: string;
  private nsFile: string | undefined;
  private waypointOn: boolean | undefined;
  private wpPod: Pod | undefined;
  private createdWaypoint = false;
  private pair: HaproxyPair | undefined;
  private hop: HaproxyPair | undefined;
  private sc: (Pair & { pids: Map<string, number> }) | undefined;
  private plain: Pair | undefined;
  private readonly objects: BenchObjects;
  private readonly ztunnels = new Map<string, number>();

  constructor(
    private readonly cluster: ClusterFile,
    private readonly modes: readonly Mode[],
    private readonly p: (m: string) => void,
  ) {
    const client = cluster.pods.find((x) => x.namespace === 'default' && x.deployment === 'curl');
    const server = cluster.pods.find((x) => x.namespace === 'default' && x.deployment === 'echo');
    const svc = cluster.services.find((s) => s.namespace === 'default' && s.name === 'echo');
    if (!client || !server || !svc)
      throw new Error('meshctl bench: needs default/curl, default/echo and Service echo (the demo config)');
    this.amb = { client, server, svc };
    this.configDir = join(cluster.stateDir, 'config');
    this.objects = new BenchObjects(this.configDir);
    for (const n of cluster.nodes) if (n.ztunnel.pid) this.ztunnels.set(n.name, n.ztunnel.pid);
  }

  get stateDir(): string {
    return this.cluster.stateDir;
  }

  private async findWaypoint(): Promise<Pod | undefined> {
    return (await readClusterFile(this.cluster.stateDir))?.pods.find(
      (x) => x.namespace === 'default' && x.name.startsWith(`${WAYPOINT}-`) && x.pids.length > 0,
    );
  }

  /** Creates a pair's objects and waits for its pods (with their sidecars when injected) and Service. */
  private async startPair(
    ns: string,
    objs: ReturnType<typeof plainPairObjects>,
    injected: boolean,
  ): Promise<Pair> {
    await this.objects.write(objs);
    const n = objs.filter((o) => o.kind === 'Deployment').length;
    const pods = await waitForPods(this.cluster.stateDir, ns, n, injected);
    let svc: Svc | undefined;
    await waitUntil(
      `Service ${ns}/echo`,
      async () =>
        (svc = (await readClusterFile(this.cluster.stateDir))?.services.find(
          (s) => s.namespace === ns && s.name === 'echo',
        )) !== undefined,
    );
    const hop = pods.find((x) => x.deployment === 'hop');
    return {
      client: pods.find((x) => x.deployment === 'curl')!,
      server: pods.find((x) => x.deployment === 'echo')!,
      svc: svc!,
      ...(hop ? { hop } : {}),
    };
  }

  /** What the modes need before the first round: the pairs, namespace default ambient, the waypoint. */
  async prepare(): Promise<void> {
    const { modes, p } = this;
    const nsPath = join(this.configDir, 'namespace-default.yaml');
    this.nsFile = await readFile(nsPath, 'utf8').catch(() => '');
    if (modes.includes('waypoint')) {
      this.wpPod = await this.findWaypoint();
      if (!this.wpPod) {
        p('creating the waypoint of namespace default (meshctl waypoint apply -n default --wait)');
        const r = await meshctl([
          'waypoint',
          'apply',
          '-n',
          'default',
          '--wait',
          '--config-dir',
          this.configDir,
        ]);
        if (r.code !== 0) throw new Error(`meshctl bench: meshctl waypoint apply failed: ${r.out.trim()}`);
        this.createdWaypoint = true;
        await waitUntil(
          'the waypoint pod',
          async () => (this.wpPod = await this.findWaypoint()) !== undefined,
          60_000,
        );
      }
    }
    if (modes.includes('ambient') || modes.includes('waypoint')) {
      if (!(await isAmbient(this.configDir)))
        p('namespace default: istio.io/dataplane-mode=ambient for the run');
      await setAmbient(this.configDir, true, false);
      this.waypointOn = false;
      for (const pod of [this.amb.client, this.amb.server])
        await waitUntil(`${pod.name} to be enrolled`, () => captured(pod.netns));
    }
    if (modes.some((m) => m === 'no-mesh' || m === 'haproxy' || m === 'haproxy-http')) {
      p(`plain pair: namespace ${PLAIN_NS} (out of the mesh), curl on node-1, echo on node-2`);
      this.plain = await this.startPair(PLAIN_NS, plainPairObjects(modes.includes('haproxy-http')), false);
    }
    if (modes.includes('sidecar')) {
      p(`sidecar pair: namespace ${SIDECAR_NS} (istio-injection=enabled), curl on node-1, echo on node-2`);
      const pr = await this.startPair(SIDECAR_NS, sidecarPairObjects(), true);
      this.sc = {
        ...pr,
        pids: new Map([
          ['sidecar-client', sidecarPid(pr.client)!],
          ['sidecar-server', sidecarPid(pr.server)!],
        ]),
      };
      p(
        `sidecar pair: ${pr.client.name} (${pr.client.ip}) -> ${pr.svc.clusterIP}:8080 -> ${pr.server.name} (${pr.server.ip})`,
      );
    }
  }

  private pairOf(v: Mode): Pair {
    return v === 'sidecar' ? this.sc! : v === 'ambient' || v === 'waypoint' ? this.amb : this.plain!;
  }

  /** Puts the cluster on mode `v`'s path and waits until the path answers. */
  async switchTo(v: Mode): Promise<void> {
    const { p } = this;
    const pl = this.plain;
    if (v === 'haproxy' && !this.pair && pl) {
      this.pair = startHaproxyPair(pl.client, pl.server, 8080);
      p(
        `haproxy pair: A in ${PLAIN_NS}/${pl.client.name} (127.0.0.1:${HAPROXY_A_PORT}) -> mutual TLS -> B in ${pl.server.name}`,
      );
    }
    if (v === 'haproxy-http' && !this.hop && pl?.hop) {
      this.hop = startHaproxyHttpHop(pl.client, pl.hop, pl.server, 8080);
      p(
        `haproxy http hop: A in ${pl.client.name} -> mutual TLS -> H (mode http) in ${pl.hop.name} (node-1) -> B in ${pl.server.name}`,
      );
    }
    if ((v === 'ambient' || v === 'waypoint') && this.waypointOn !== (v === 'waypoint')) {
      await setAmbient(this.configDir, true, v === 'waypoint');
      this.waypointOn = v === 'waypoint';
    }
    await waitUntil(`${v} to answer`, () => this.answers(v), 30_000);
  }

  /** Through the waypoint (and only then, on the ambient pair) echo sees the x-request-id it adds. */
  private async answers(v: Mode): Promise<boolean> {
    const [, host, , port] = this.targetOf(v);
    const body = await curl(this.clientOf(v).netns, `http://${host}:${port}/`);
    if (body === undefined) return false;
    return (v !== 'ambient' && v !== 'waypoint') || body.includes('"x-request-id"') === (v === 'waypoint');
  }

  clientOf(v: Mode): Pod {
    return this.pairOf(v).client;
  }

  serverOf(v: Mode): Pod {
    return this.pairOf(v).server;
  }

  /** `ns/deployment` of the client pod. */
  clientRef(v: Mode): string {
    return `${this.clientOf(v).namespace}/curl`;
  }

  targetOf(v: Mode): string[] {
    return v === 'haproxy'
      ? ['--host', '127.0.0.1', '--port', String(HAPROXY_A_PORT)]
      : v === 'haproxy-http'
        ? ['--host', '127.0.0.1', '--port', String(HAPROXY_A2_PORT)]
        : [
            '--host',
            this.pairOf(v).svc.clusterIP,
            '--port',
            String(this.pairOf(v).svc.ports[0]?.port ?? 8080),
          ];
  }

  /** The mesh processes on mode `v`'s path. */
  procsOf(v: Mode): Map<string, number> {
    switch (v) {
      case 'no-mesh':
        return new Map();
      case 'ambient':
        return this.ztunnels;
      case 'waypoint':
        return new Map([
          ...this.ztunnels,
          ...(this.wpPod ? [['waypoint', this.wpPod.pids[0]!] as const] : []),
        ]);
      case 'sidecar':
        return this.sc!.pids;
      case 'haproxy':
        return this.pair?.pids ?? new Map();
      case 'haproxy-http':
        return this.hop?.pids ?? new Map();
    }
  }

  watchOf(v: Mode): ProcWatch {
    return new ProcWatch(this.procsOf(v));
  }

  ztunnelPids(): Map<string, number> {
    return this.ztunnels;
  }

  /** Leaves the cluster as the run found it. */
  async restore(): Promise<void> {
    const { p } = this;
    this.pair?.stop();
    this.hop?.stop();
    if (this.nsFile !== undefined) {
      const path = join(this.configDir, 'namespace-default.yaml');
      if ((await readFile(path, 'utf8').catch(() => '')) !== this.nsFile) {
        if (this.nsFile) await writeFile(path, this.nsFile);
        else await rm(path, { force: true });
        p('namespace default: labels restored');
      }
    }
    if (this.createdWaypoint) {
      const r = await meshctl([
        'waypoint',
        'delete',
        WAYPOINT,
        '-n',
        'default',
        '--config-dir',
        this.configDir,
      ]);
      p(r.code === 0 ? 'the waypoint created for the bench is deleted' : r.out.trim());
      if (r.code === 0)
        await waitUntil(
          'the waypoint pod to go',
          async () => (await this.findWaypoint()) === undefined,
          30_000,
        ).catch((err: unknown) => p(String(err)));
    }
    // Also when a pair never came up (prepare failed half way): its objects go in any case.
    if (await this.objects.removeAll()) {
      await waitForNoPods(this.cluster.stateDir, SIDECAR_NS);
      await waitForNoPods(this.cluster.stateDir, PLAIN_NS);
      p(`the bench's pairs removed (namespaces ${PLAIN_NS}, ${SIDECAR_NS})`);
    }
  }
}
