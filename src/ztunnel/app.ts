import net, { isIPv4 } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { createRegistry } from '../common/metrics.js';
import { Drain, type DrainResult } from '../common/drain.js';
import { errorMessage } from '../common/errors.js';
import { HboneServer } from '../hbone/server.js';
import { HbonePool } from '../hbone/pool.js';
import { loadCa } from '../pki/ca.js';
import { splitPemCerts } from '../pki/pem.js';
import { StateStore } from './state/store.js';
import type { Workload } from './state/types.js';
import { TcpMetrics } from './telemetry/metrics.js';
import { ConnectionTracker } from './connections.js';
import { Inbound } from './inbound/inbound.js';
import { Outbound } from './outbound/outbound.js';
import { LoopbackPodListeners } from './pod-listeners.js';
import { AdminServers } from './admin.js';
import { LocalIdentities, CaIdentities, type IdentityProvider } from './identity.js';
import { startXdsSource } from './xds-source.js';
import type { ZtunnelConfig } from './config.js';
import type { DeltaClient } from '../xds/delta-client.js';
import type { SocketAddr } from './outbound/decide.js';
import type { SpiffeId } from '../pki/spiffe.js';
import type { Credentials } from '../hbone/credentials.js';
import { caChannelCredentials } from '../identity/index.js';
import { Socks5Server } from './socks5/socks5-server.js';
import { Socks5Reply } from './socks5/socks5-parse.js';
import { DnsServer } from './dns/dns-server.js';
import { resolveMeshName } from './dns/mesh-names.js';
import { isIP } from 'node:net';
import { connectInNamespace, ZTUNNEL_MARK } from '../native/index.js';
import { CapturePodListeners } from './capture/capture-listeners.js';
import { MemoryTrim } from '../common/memory-trim.js';

export interface ZtunnelDeps {
  logger: Logger;
  registry?: Registry;
  /** Where certificates come from; default: the CA in --local-ca-dir (istiod's CA client comes with the identity work). */
  identities?: IdentityProvider;
}

/**
 * One ztunnel: the state (from istiod or a file), the per-pod listeners of the node's ambient pods,
 * the outbound and inbound paths, the node-level ports and the admin endpoints.
 */
/** How long a reconcile waits for the pods' certificates before opening their listeners anyway. */
const CERT_WAIT_MS = 5_000;
/** Sockets ztunnel opens for a pod (to an app, or out of the mesh) behave as its TCP ones: FIN passed
 * on, not answered with ours (half-close), and no Nagle delay on what it forwards. */
const APP_SOCKET = { allowHalfOpen: true, noDelay: true } as const;

export class Ztunnel {
  readonly cfg: ZtunnelConfig;
  readonly log: Logger;
  readonly registry: Registry;
  readonly store = new StateStore();
  readonly drain = new Drain();
  readonly tracker = new ConnectionTracker();
  readonly metrics: TcpMetrics;
  readonly pool: HbonePool;
  readonly hbone: HboneServer;
  readonly inbound: Inbound;
  readonly outbound: Outbound;
  readonly admin: AdminServers;
  identities!: IdentityProvider;
  private readonly podListeners: LoopbackPodListeners;
  /** Capture mode only: pods' listeners and rules inside their network namespaces. */
  readonly capture: CapturePodListeners | undefined;
  readonly socks5: Socks5Server;
  readonly dns: DnsServer;
  readonly nodePorts = { socks5: 0, dns: 0 };
  private xds: DeltaClient | undefined;
  private xdsCreds: Credentials | undefined;
  private xdsRenewTimer: NodeJS.Timeout | undefined;
  private synced = false;
  private readonly certsPending = new Set<string>();
  private identitiesInUse = new Map<string, SpiffeId>();
  /** The first reconcile after the first sync has opened the local pods' listeners. */
  private reconciled = false;
  private onSynced: () => void = () => undefined;
  private readonly whenSynced = new Promise<void>((r) => (this.onSynced = r));
  private reconciling: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly memoryTrim: MemoryTrim;

  constructor(cfg: ZtunnelConfig, deps: ZtunnelDeps) {
    this.cfg = cfg;
    this.log = deps.logger;
    this.registry = deps.registry ?? createRegistry('ztunnel', { defaultMetrics: true });
    this.memoryTrim = new MemoryTrim(cfg.memoryTrimInterval, this.log.child({ part: 'memory' }));
    if (deps.identities) this.identities = deps.identities;
    this.metrics = new TcpMetrics(this.registry);
    this.pool = new HbonePool({
      logger: this.log.child({ part: 'hbone-pool' }),
      registry: this.registry,
      trustDomains: [cfg.trustDomain],
      impl: cfg.hboneImpl,
    });
    this.inbound = new Inbound({
      store: this.store,
      nodeName: cfg.nodeName,
      network: cfg.network,
      clusterId: cfg.clusterId,
      metrics: this.metrics,
      log: this.log.child({ part: 'inbound' }),
      tracker: this.tracker,
      drain: this.drain,
      selfPorts: [cfg.outboundPort, cfg.inboundPlaintextPort, cfg.hbonePort],
      connectApp: (pod, ip, port, srcIp) => {
        const ns = this.capture?.netnsOf(pod);
        if (ns) {
          // Istio's in-pod model: the app sees the client's address (a transparent socket; the
          // pod's reply routing brings its answers back to this socket).
          const src = srcIp.startsWith('::ffff:') ? srcIp.slice(7) : srcIp;
          const keep = isIPv4(src) && src !== ip ? { localAddress: src, transparent: true } : {};
          return connectInNamespace(ns, { host: ip, port, mark: ZTUNNEL_MARK, ...APP_SOCKET, ...keep });
        }
        return net.connect({ host: ip, port, ...APP_SOCKET });
      },
    });
    this.hbone = new HboneServer({
      impl: cfg.hboneImpl,
      trustDomains: [cfg.trustDomain],
      logger: this.log.child({ part: 'hbone' }),
      registry: this.registry,
      onRequest: (req) => {
        const uid = req.context as string | undefined;
        const pod = uid ? this.store.workloadByUid(uid) : undefined;
        if (!pod) return req.reject(503);
        this.inbound.onHbone(req, pod);
      },
    });
    this.outbound = new Outbound({
      store: this.store,
      pool: this.pool,
      identities: { get: (id) => this.identities.get(id) } as IdentityProvider,
      metrics: this.metrics,
      log: this.log.child({ part: 'outbound' }),
      drain: this.drain,
      tracker: this.tracker,
      nodeName: cfg.nodeName,
      nodeIps: [cfg.nodeIp],
      clusterId: cfg.clusterId,
      selfPorts: [cfg.outboundPort, cfg.inboundPlaintextPort, cfg.hbonePort],
      connectDirect: (src, t) => {
        const ns = this.capture?.netnsOf(src);
        if (ns)
          return connectInNamespace(ns, { host: t.ip, port: t.port, mark: ZTUNNEL_MARK, ...APP_SOCKET });
        return net.connect({ host: t.ip, port: t.port, ...APP_SOCKET });
      },
      hboneLocal: (src) => {
        const ns = this.capture?.netnsOf(src);
        // Capture mode: dial from inside the source pod's namespace, so the peer sees the pod IP.
        if (ns)
          return {
            dial: (host, port) => connectInNamespace(ns, { host, port, mark: ZTUNNEL_MARK, noDelay: true }),
          };
        return { localAddress: src.ips[0] };
      },
    });
    this.podListeners = new LoopbackPodListeners(
      this.log.child({ part: 'listeners' }),
      {
        hbone: (socket, pod) => this.onHboneSocket(socket, pod),
        plaintext: (socket, pod, origDst) => this.inbound.onPlaintext(socket, pod, origDst),
      },
      { hbone: cfg.hbonePort, plaintext: cfg.inboundPlaintextPort },
    );
    if (cfg.mode === 'capture') {
      this.capture = new CapturePodListeners(
        this.log.child({ part: 'capture' }),
        {
          outbound: (socket, pod, dst) => this.handleOutbound(socket, pod, dst),
          hbone: (socket, pod) => this.onHboneSocket(socket, pod),
          plaintext: (socket, pod, dst) => this.inbound.onPlaintext(socket, pod, dst),
        },
        { outbound: cfg.outboundPort, inboundPlaintext: cfg.inboundPlaintextPort, hbone: cfg.hbonePort },
      );
    }
    this.socks5 = new Socks5Server({
      logger: this.log.child({ part: 'socks5' }),
      registry: this.registry,
      // Mesh service names resolve to their VIP (IPv4 first); other names go to the system resolver.
      resolve: (host, client) => resolveMeshName(this.store, host, this.namespaceOf(client.ip))?.ips[0],
      onConnect: (req) => {
        const src = this.store.workloadByAddress(cfg.network, req.clientAddr.ip);
        if (!src || (cfg.nodeName && src.node !== cfg.nodeName)) {
          this.log.warn(
            { client: req.clientAddr.ip },
            'socks5: the client is not a pod of this node; connect from the pod IP (e.g. curl --interface <pod IP>)',
          );
          return req.fail(Socks5Reply.NOT_ALLOWED);
        }
        this.outbound.handle(src, req.dst, {
          client: req.clientAddr,
          accept: () => req.succeed(),
          refuse: (kind) =>
            req.fail(kind === 'denied' ? Socks5Reply.NOT_ALLOWED : Socks5Reply.CONNECTION_REFUSED),
        });
      },
    });
    this.dns = new DnsServer({
      logger: this.log.child({ part: 'dns' }),
      registry: this.registry,
      lookup: (name, client) => {
        const answer = resolveMeshName(this.store, name, this.namespaceOf(client.ip));
        return answer ? { ips: answer.ips } : undefined;
      },
    });
    this.admin = new AdminServers(this.log, this.registry, {
      configDump: () => this.configDump(),
      ready: () => this.readiness(),
      quit: () => void this.shutdown(),
    });
  }

  /** The node's ambient pods: on this node, speaking HBONE, not a waypoint (which terminates HBONE itself). */
  localPods(): Workload[] {
    const out: Workload[] = [];
    for (const w of this.store.workloads()) {
      if (w.node === this.cfg.nodeName && w.protocol === 'HBONE' && !w.nativeTunnel) out.push(w);
    }
    return out;
  }

  private onHboneSocket(socket: net.Socket, pod: Workload): void {
    this.identities.get(pod.identity).then(
      (creds) => this.hbone.handleConnection(socket, creds, pod.uid),
      (err: unknown) => {
        this.log.warn(
          { pod: `${pod.namespace}/${pod.name}`, err: errorMessage(err) },
          'no certificate yet for an inbound connection; closing it',
        );
        socket.destroy();
      },
    );
  }

  async start(): Promise<void> {
    this.memoryTrim.start();
    if (!this.identities) this.identities = await this.localIdentities();
    if (this.capture) {
      if (!this.cfg.captureSocket)
        throw new Error('capture mode needs --capture-socket (the node agent connects there)');
      await this.capture.listen(this.cfg.captureSocket);
    }
    this.store.onChange((change) => {
      if (change.type === 'addresses') this.scheduleReconcile();
      // Policies or workloads' policy lists changed: re-check live connections now.
      const closed = this.inbound.recheck();
      if (closed > 0) this.log.info({ closed }, 'policy change closed live connections');
    });
    await this.admin.start(this.cfg);
    // Capture mode: a restarted ztunnel (meshctl rollout restart) opens its node ports beside the old
    // one's (SO_REUSEPORT), and only once it holds the mesh's state: queries spread over both
    // processes, and an empty store would answer a mesh name with "no such host".
    if (this.cfg.mode === 'capture') {
      this.nodePorts.socks5 = this.cfg.socks5Port;
      this.nodePorts.dns = this.cfg.dnsPort;
      void this.whenSynced
        .then(() => this.openNodePorts(true))
        .catch((err: unknown) =>
          this.log.error({ err: errorMessage(err) }, 'cannot open the node ports (SOCKS5, DNS)'),
        );
    } else await this.openNodePorts(false);
    if (this.cfg.stateFile) {
      // Loaded only here: the file source (and its YAML parser, ~1.5 MB resident) is not needed with istiod.
      const { loadStateFile } = await import('./state/state-file.js');
      const { errors } = await loadStateFile(this.cfg.stateFile, this.store);
      for (const e of errors)
        this.log.warn({ resource: e.name, errors: e.errors }, 'state file: resource rejected');
      this.markSynced();
    } else if (this.cfg.secureXdsAddress) {
      await this.startSecureXds();
    } else if (this.cfg.xdsAddress) {
      this.xds = startXdsSource({
        address: this.cfg.xdsAddress,
        store: this.store,
        logger: this.log.child({ part: 'xds' }),
        nodeIp: this.cfg.nodeIp,
        podName: this.cfg.podName || `ztunnel-${this.cfg.nodeName}`,
        podNamespace: this.cfg.podNamespace,
        nodeName: this.cfg.nodeName,
        clusterId: this.cfg.clusterId,
        onSynced: () => this.markSynced(),
        onConnectionChange: (up) =>
          this.log.info(
            { connected: up },
            up ? 'connected to istiod' : 'lost istiod; serving the last state',
          ),
      });
    }
    this.drain.onDrain(() => {
      this.podListeners.closeAll();
      this.capture?.stopAccepting();
      void this.socks5.close();
      this.dns.close();
      void this.hbone.drain(this.cfg.drainDeadline);
    });
    this.drain.onForce(() => this.pool.close());
    this.log.info(
      {
        node: this.cfg.nodeName,
        nodeIp: this.cfg.nodeIp,
        mode: this.cfg.mode,
        ports: { ...this.admin.ports, ...this.nodePorts },
      },
      'ztunnel started',
    );
  }

  /**
   * xDS over istiod's mTLS port with ztunnel's own certificate (bootstrapped from the CA with the node
   * token). When that certificate is renewed the stream is re-opened with the new one; the state store
   * keeps serving meanwhile.
   */
  private async startSecureXds(): Promise<void> {
    const own = {
      trustDomain: this.cfg.trustDomain,
      namespace: this.cfg.podNamespace,
      serviceAccount: 'ztunnel',
    };
    const open = async (): Promise<void> => {
      const creds = await this.identities.get(own);
      if (creds === this.xdsCreds && this.xds) return;
      this.xdsCreds = creds;
      this.xds?.close();
      this.xds = startXdsSource({
        address: this.cfg.secureXdsAddress,
        credentials: caChannelCredentials(creds.rootsPem.join('\n'), {
          keyPem: creds.keyPem,
          chainPem: creds.chainPem.join('\n'),
        }),
        store: this.store,
        logger: this.log.child({ part: 'xds' }),
        nodeIp: this.cfg.nodeIp,
        podName: this.cfg.podName || `ztunnel-${this.cfg.nodeName}`,
        podNamespace: this.cfg.podNamespace,
        nodeName: this.cfg.nodeName,
        clusterId: this.cfg.clusterId,
        onSynced: () => this.markSynced(),
        onConnectionChange: (up) =>
          this.log.info(
            { connected: up, mtls: true },
            up ? 'connected to istiod (mTLS)' : 'lost istiod; serving the last state',
          ),
      });
    };
    await open();
    this.xdsRenewTimer = setInterval(() => {
      open().catch((err: unknown) =>
        this.log.warn({ err: errorMessage(err) }, 'xds: could not renew the mTLS credentials'),
      );
    }, 60_000);
    this.xdsRenewTimer.unref();
  }

  /** Resolves once the first state sync is in and every local pod has its certificate. */
  whenReady(timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const tick = (): void => {
        const r = this.readiness();
        if (r.ready) resolve();
        else if (Date.now() > end) reject(new Error(`ztunnel not ready after ${timeoutMs} ms: ${r.reason}`));
        else setTimeout(tick, 20);
      };
      tick();
    });
  }

  readiness(): { ready: boolean; reason?: string } {
    if (!this.synced) return { ready: false, reason: 'waiting for the first state sync from istiod' };
    if (this.capture && !this.capture.ready)
      return { ready: false, reason: 'waiting for the node agent to hand over the pods' };
    if (!this.reconciled) return { ready: false, reason: "opening the local pods' listeners" };
    if (this.certsPending.size > 0)
      return { ready: false, reason: `fetching certificates for ${[...this.certsPending].join(', ')}` };
    return { ready: true };
  }

  /** Outbound entry point for a captured connection or a SOCKS5 request. */
  handleOutbound(socket: net.Socket, src: Workload, origDst: SocketAddr): void {
    this.outbound.handle(src, origDst, {
      client: { ip: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 },
      accept: () => socket,
      refuse: () => socket.destroy(),
    });
  }

  /** Drains (GOAWAY, stop accepting, let connections finish until the deadline) and closes. */
  async shutdown(deadlineMs = this.cfg.drainDeadline): Promise<DrainResult> {
    if (this.stopped) return { forced: false, remaining: 0, elapsedMs: 0 };
    this.stopped = true;
    this.log.info({ deadlineMs, open: this.drain.active }, 'ztunnel draining');
    const r = await this.drain.start(deadlineMs);
    await this.hbone.close();
    this.pool.close();
    if (this.xdsRenewTimer) clearInterval(this.xdsRenewTimer);
    this.xds?.close();
    this.admin.close();
    this.identities.close();
    this.memoryTrim.stop();
    this.log.info({ forced: r.forced, remaining: r.remaining, ms: r.elapsedMs }, 'ztunnel stopped');
    return r;
  }

  configDump(): unknown {
    const wl = [...this.store.workloads()].map((w) => ({
      uid: w.uid,
      name: w.name,
      namespace: w.namespace,
      addresses: w.ips,
      node: w.node,
      protocol: w.protocol,
      identity: w.identityUri,
      waypoint: w.waypoint,
      healthy: w.healthy,
      services: Object.fromEntries([...w.services].map(([k, v]) => [k, Object.fromEntries(v)])),
      authorizationPolicies: w.authorizationPolicies,
    }));
    const svc = [...this.store.services()].map((s) => ({
      name: s.name,
      namespace: s.namespace,
      hostname: s.hostname,
      vips: s.vips.map((v) => (v.network ? `${v.network}/${v.ip}` : v.ip)),
      ports: Object.fromEntries([...s.ports].map(([p, v]) => [p, v.targetPort])),
      waypoint: s.waypoint,
      endpoints: this.store.endpointsOf(s.key).map((w) => w.uid),
    }));
    const policies = [...this.store.authorizationNames()]
      .map((n) => this.store.policy(n))
      .filter((p) => p !== undefined);
    return {
      node: this.cfg.nodeName,
      workloads: wl,
      services: svc,
      policies,
      certificates: this.identities?.describe() ?? [],
      listeners: this.capture ? this.capture.describe() : this.podListeners.describe(),
      connections: { inbound: this.tracker.inbound.size, outbound: this.tracker.outbound },
    };
  }

  /** The namespace of the workload with this IP (for short DNS names), if it is one. */
  private namespaceOf(ip: string): string | undefined {
    if (!isIP(ip)) return undefined;
    return this.store.workloadByAddress(this.cfg.network, ip)?.namespace;
  }

  /** SOCKS5 and DNS on the node IP (when their ports are not 0). */
  private async openNodePorts(reusePort: boolean): Promise<void> {
    if (this.stopped) return;
    if (this.cfg.socks5Port !== 0)
      this.nodePorts.socks5 = (
        await this.socks5.listen(this.cfg.socks5Port, this.cfg.nodeIp, reusePort)
      ).port;
    if (this.cfg.dnsPort !== 0)
      this.nodePorts.dns = (await this.dns.listen(this.cfg.dnsPort, this.cfg.nodeIp, reusePort)).udp.port;
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.onSynced();
    this.log.info({ ...this.store.counts }, 'first state sync done');
    this.scheduleReconcile();
  }

  private scheduleReconcile(): void {
    if (!this.synced || this.stopped) return;
    this.reconciling = this.reconciling
      .then(() => this.reconcile())
      .then(() => {
        this.reconciled = true;
      });
  }

  private async reconcile(): Promise<void> {
    const pods = this.localPods();
    // Identities with no pod left on this node: stop renewing their certificates.
    const inUse = new Map(pods.map((p) => [p.identityUri, p.identity]));
    for (const [uri, id] of this.identitiesInUse) if (!inUse.has(uri)) this.identities.forget(id);
    this.identitiesInUse = inUse;
    const certs: Promise<unknown>[] = [];
    for (const p of pods) {
      const cert = this.identities.get(p.identity);
      certs.push(cert.catch(() => undefined));
      if (this.certsPending.has(p.identityUri)) continue;
      this.certsPending.add(p.identityUri);
      cert.then(
        () => this.certsPending.delete(p.identityUri),
        (err: unknown) => {
          this.certsPending.delete(p.identityUri);
          this.log.warn({ identity: p.identityUri, err: errorMessage(err) }, 'certificate fetch failed');
        },
      );
    }
    // A pod's listeners open once its certificate is in (waiting at most CERT_WAIT_MS): a ztunnel that
    // takes pods over from another (rollout) must not accept HBONE it cannot yet answer.
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(certs),
      new Promise((r) => (waited = setTimeout(r, CERT_WAIT_MS))),
    ]).finally(() => clearTimeout(waited));
    if (this.capture) await this.capture.reconcile(pods, (uid) => this.store.workloadByUid(uid));
    else await this.podListeners.reconcile(pods, (uid) => this.store.workloadByUid(uid));
  }

  private async localIdentities(): Promise<IdentityProvider> {
    if (!this.cfg.caDir) {
      const address = this.cfg.caAddress || this.cfg.xdsAddress;
      if (!address) throw new Error('no certificate source: give --ca-address (istiod) or --local-ca-dir');
      return new CaIdentities({
        address,
        tokenFile: this.cfg.tokenFile,
        ownIdentity: {
          trustDomain: this.cfg.trustDomain,
          namespace: this.cfg.podNamespace,
          serviceAccount: 'ztunnel',
        },
        clusterId: this.cfg.clusterId,
        logger: this.log.child({ part: 'identity' }),
        registry: this.registry,
      });
    }
    const dir = this.cfg.caDir;
    const [cert, key, chain] = await Promise.all([
      readFile(`${dir}/ca-cert.pem`, 'utf8'),
      readFile(`${dir}/ca-key.pem`, 'utf8'),
      readFile(`${dir}/cert-chain.pem`, 'utf8').catch(() => readFile(`${dir}/root-cert.pem`, 'utf8')),
    ]);
    return new LocalIdentities(loadCa(cert, key, splitPemCerts(chain)));
  }
}
