/**
 * The sidecar: the L7 engine inside one pod, in two roles. Captured outbound TCP (15001) runs through
 * the outbound engine (client-side routing; HBONE to the chosen pod with the pod's own identity);
 * inbound HBONE (15008) and captured inbound plaintext (15006) run through the inbound engine
 * (server-side policy, `reporter="destination"` telemetry) to the app on the pod's IP. Its sockets
 * carry the mark 0x539, which the pod's rules let through uncaptured. Configuration from istiod
 * (`<ns>/~sidecar-outbound`, `<ns>/<pod>~inbound`); certificate from istiod's CA (the pod's identity).
 */
import net from 'node:net';
import type http from 'node:http';
import type { Registry } from 'prom-client';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { createRegistry } from '../common/metrics.js';
import { pump } from '../common/pump.js';
import type { CertSource } from '../hbone/credentials.js';
import { baggage, parseForwardedFor } from '../hbone/headers.js';
import { HbonePool } from '../hbone/pool.js';
import type { HboneRequest } from '../hbone/request.js';
import { HboneServer } from '../hbone/server.js';
import { ProxyCertificates } from '../identity/proxy-certs.js';
import { L7Engine } from '../l7/engine.js';
import type { ConnInfo } from '../l7/http/exchange.js';
import type { L7Config } from '../l7/model.js';
import { connectSocket, getOriginalDst, ZTUNNEL_MARK } from '../native/index.js';
import type { SpiffeId } from '../pki/spiffe.js';
import type { DeltaClient } from '../xds/delta-client.js';
import { watchProxyConfig } from '../waypoint/config-watch.js';
import { HboneConnector } from '../waypoint/connector.js';
import { handleTunnel } from '../waypoint/inbound.js';
import { startStatusServers } from '../waypoint/status-servers.js';
import { compileAuthz, type CompiledAuthz } from '../l7/security/authz-compile.js';
import { decideAuthz } from '../l7/security/authz-decide.js';
import type { SidecarConfig } from './config.js';

/** The pod's L4 policies compiled once per push; a set that cannot be compiled denies (fail closed). */
function compileL4(cfg: L7Config, log: Logger): CompiledAuthz | undefined {
  if (!cfg.l4Policies?.length) return undefined;
  try {
    return compileAuthz(cfg.l4Policies);
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'sidecar: L4 policies cannot be compiled; denying (fail closed)');
    return compileAuthz([{ namespace: '', name: 'invalid-policy', action: 'ALLOW', rules: [] }]);
  }
}

/**
 * The mark on the sidecar's own sockets (0x539), so the pod's capture rules let them through. Setting
 * SO_MARK needs CAP_NET_ADMIN: the sidecar running as Istio's proxy uid (1337, as injected on
 * Kubernetes) sets none, and the rules let its sockets through by uid instead (`meta skuid 1337`).
 */
export const SIDECAR_MARK: number | undefined = process.geteuid?.() === 0 ? ZTUNNEL_MARK : undefined;

export interface SidecarDeps {
  logger: Logger;
  registry?: Registry;
  certs?: CertSource;
  trustDomains?: string[];
}

export class Sidecar {
  readonly registry: Registry;
  outbound!: L7Engine;
  inbound!: L7Engine;
  private readonly log: Logger;
  private readonly servers: Array<net.Server | http.Server> = [];
  private hbone: HboneServer | undefined;
  private pool: HbonePool | undefined;
  private xds: DeltaClient | undefined;
  private ca: ProxyCertificates | undefined;
  private readonly got = new Set<string>();
  /** The pod's policies for connections the inbound engine does not judge per request. */
  private l4: CompiledAuthz | undefined;

  constructor(
    readonly cfg: SidecarConfig,
    private readonly deps: SidecarDeps,
  ) {
    this.log = deps.logger;
    this.registry = deps.registry ?? createRegistry('sidecar', { defaultMetrics: true });
  }

  get identity(): SpiffeId {
    return {
      trustDomain: this.cfg.trustDomain,
      namespace: this.cfg.namespace,
      serviceAccount: this.cfg.serviceAccount || 'default',
    };
  }

  get outboundResource(): string {
    return `${this.cfg.namespace}/~sidecar-outbound`;
  }

  get inboundResource(): string {
    return `${this.cfg.namespace}/${this.cfg.podName}~inbound`;
  }

  /** Ready once both roles have their configuration. */
  get ready(): boolean {
    return this.got.size === 2;
  }

  apply(cfg: L7Config, resource: string): void {
    const engine = resource === this.inboundResource ? this.inbound : this.outbound;
    engine.update(cfg);
    if (engine === this.inbound) this.l4 = compileL4(cfg, this.log);
    this.got.add(resource);
    this.log.info(
      { role: engine === this.inbound ? 'inbound' : 'outbound', services: cfg.services.length },
      'sidecar configuration applied',
    );
  }

  async start(opts: { watchXds?: boolean } = {}): Promise<void> {
    const certs = this.deps.certs ?? (await this.certsFromCa());
    const trustDomains = this.deps.trustDomains ?? [this.cfg.trustDomain];
    this.pool = new HbonePool({ logger: this.log, registry: this.registry, trustDomains });
    const connector = new HboneConnector(this.pool, certs, {
      ...(SIDECAR_MARK ? { mark: SIDECAR_MARK } : {}),
      baggage: baggage({
        namespace: this.cfg.namespace,
        workloadName: this.cfg.workload || this.cfg.podName,
        ...(this.cfg.app ? { serviceName: this.cfg.app } : {}),
        ...(this.cfg.version ? { serviceVersion: this.cfg.version } : {}),
      }),
    });
    const common = {
      connector,
      registry: this.registry,
      clusterId: this.cfg.clusterId,
      accessLog: this.cfg.accessLog,
    };
    this.outbound = new L7Engine({
      ...common,
      log: this.log.child({ part: 'access', role: 'outbound' }),
      reporter: 'source',
    });
    this.inbound = new L7Engine({
      ...common,
      log: this.log.child({ part: 'access', role: 'inbound' }),
      reporter: 'destination',
    });
    this.hbone = new HboneServer({
      certs,
      trustDomains,
      logger: this.log,
      registry: this.registry,
      onRequest: (req) => this.onTunnel(req),
    });
    await this.hbone.listen(this.cfg.hbonePort, '0.0.0.0');
    await this.listen(this.cfg.outboundPort, (s) => this.onOutbound(s));
    await this.listen(this.cfg.inboundPort, (s) => this.onInboundPlain(s));
    this.log.info(
      {
        identity: certs.current().uri,
        outbound: this.cfg.outboundPort,
        inbound: this.cfg.inboundPort,
        hbone: this.cfg.hbonePort,
      },
      'sidecar listening',
    );
    if (opts.watchXds !== false) {
      this.xds = watchProxyConfig({
        address: this.cfg.xdsAddress,
        name: this.cfg.podName,
        namespace: this.cfg.namespace,
        podName: this.cfg.podName,
        podIp: this.cfg.podIp,
        nodeType: 'sidecar',
        resources: [this.outboundResource, this.inboundResource],
        logger: this.log.child({ part: 'xds' }),
        onConfig: (c, r) => this.apply(c, r),
      });
    }
    const st = await startStatusServers({
      registry: this.registry,
      ready: () => this.ready,
      metricsPort: this.cfg.metricsPort,
      readinessPort: this.cfg.readinessPort,
      host: '0.0.0.0',
    });
    this.servers.push(...st.servers);
  }

  async stop(): Promise<void> {
    this.xds?.close();
    for (const s of this.servers) s.close();
    await this.hbone?.drain(500);
    await this.hbone?.close();
    this.outbound?.close();
    this.inbound?.close();
    this.pool?.close();
    this.ca?.close();
  }

  private listen(port: number, onConn: (s: net.Socket) => void): Promise<void> {
    const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, onConn);
    this.servers.push(srv);
    return new Promise((res, rej) => {
      srv.once('error', rej);
      srv.listen(port, '0.0.0.0', () => res());
    });
  }

  private who(): Pick<
    ConnInfo,
    'sourcePrincipal' | 'sourceNamespace' | 'sourceWorkload' | 'sourceApp' | 'sourceVersion'
  > {
    const id = this.identity;
    return {
      sourcePrincipal: `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`,
      sourceNamespace: this.cfg.namespace,
      sourceWorkload: this.cfg.workload || this.cfg.podName,
      ...(this.cfg.app ? { sourceApp: this.cfg.app } : {}),
      ...(this.cfg.version ? { sourceVersion: this.cfg.version } : {}),
    };
  }

  /** Captured outbound: a known service through the engine, anything else passed through. */
  private onOutbound(s: net.Socket): void {
    s.on('error', () => undefined);
    let dst: { ip: string; port: number };
    try {
      dst = getOriginalDst(s);
    } catch (err) {
      this.log.warn(
        { err: errorMessage(err) },
        'sidecar: outbound connection without an original destination',
      );
      s.destroy();
      return;
    }
    if (!this.outbound.portFor(dst.ip, dst.port)) return this.passthrough(s, dst.ip, dst.port, 'outbound');
    this.outbound.serve(s, {
      targetIp: dst.ip,
      targetPort: dst.port,
      sourceIp: this.cfg.podIp,
      sourcePort: s.remotePort ?? 0,
      ...this.who(),
      mtls: false,
    });
  }

  /** Captured inbound plaintext (a caller outside the mesh): the inbound engine, else the app directly. */
  private onInboundPlain(s: net.Socket): void {
    s.on('error', () => undefined);
    let dst: { ip: string; port: number };
    try {
      dst = getOriginalDst(s);
    } catch {
      s.destroy();
      return;
    }
    const served = this.inbound.portFor(dst.ip, dst.port);
    if (!served || served.port.protocol === 'tcp') {
      if (!this.allowL4(s.remoteAddress ?? '', '', dst.ip, dst.port)) return void s.destroy();
      if (!served) return this.passthrough(s, dst.ip, dst.port, 'inbound');
    }
    this.inbound.serve(s, {
      targetIp: dst.ip,
      targetPort: dst.port,
      sourceIp: s.remoteAddress ?? '',
      sourcePort: s.remotePort ?? 0,
      sourcePrincipal: '',
      mtls: false,
    });
  }

  /** Inbound HBONE: only to this pod; a served port through the engine, another port straight to the app. */
  private onTunnel(req: HboneRequest): void {
    const t = req.target;
    if (t.ip !== this.cfg.podIp) {
      this.log.warn(
        { target: t.authority, peer: req.peerUri },
        'sidecar: tunnel to another address; refused',
      );
      req.reject(400);
      return;
    }
    const served = this.inbound.portFor(t.ip, t.port);
    if (!served || served.port.protocol === 'tcp') {
      // The client's address: the tunnel's `forwarded` (a ztunnel tunnels for its pods), else the peer.
      const fwd = parseForwardedFor(String(req.headers.forwarded ?? '')) ?? req.remoteAddress ?? '';
      const ip = /^\[?([^\]]+?)\]?:\d+$/.exec(fwd)?.[1] ?? fwd;
      if (!this.allowL4(ip, req.peerUri, t.ip, t.port)) return void req.reject(401);
    }
    if (served) {
      handleTunnel(req, this.inbound, this.log);
      return;
    }
    const up = connectSocket({
      host: t.ip,
      port: t.port,
      allowHalfOpen: true,
      noDelay: true,
      ...(SIDECAR_MARK ? { mark: SIDECAR_MARK } : {}),
    });
    up.once('error', () => req.reject(503));
    up.once('connect', () => {
      const stream = req.accept();
      if (!stream) return void up.destroy();
      pump(stream, up, () => undefined);
    });
  }

  /**
   * L4 authorization (Istio's network RBAC) for a connection the engine does not judge per request: a
   * port no service names, or a TCP port. Logs a denial with the deciding policy.
   */
  private allowL4(sourceIp: string, principal: string, dstIp: string, dstPort: number): boolean {
    if (!this.l4) return true;
    const d = decideAuthz(
      {
        sourceIp,
        remoteIp: sourceIp,
        sourcePrincipal: principal,
        destinationIp: dstIp,
        destinationPort: dstPort,
        method: '',
        path: '',
        authority: '',
        header: () => undefined,
      },
      this.l4,
    );
    if (d.allow) return true;
    this.log.warn(
      {
        policy: d.policy ? `${d.policy.namespace}/${d.policy.name}` : 'none',
        source: principal || sourceIp,
        dst: `${dstIp}:${dstPort}`,
      },
      'sidecar: connection denied by policy (L4)',
    );
    return false;
  }

  private passthrough(s: net.Socket, ip: string, port: number, dir: string): void {
    s.pause();
    const up = connectSocket({
      host: ip,
      port,
      allowHalfOpen: true,
      noDelay: true,
      ...(SIDECAR_MARK ? { mark: SIDECAR_MARK } : {}),
    });
    up.on('error', (err) => {
      this.log.debug({ dst: `${ip}:${port}`, err: errorMessage(err) }, `sidecar: ${dir} passthrough failed`);
      s.destroy();
    });
    up.once('connect', () => {
      s.resume();
      pump(s, up, () => undefined);
    });
  }

  private certsFromCa(): Promise<CertSource> {
    this.ca = new ProxyCertificates(this.cfg, this.identity, this.log, this.registry);
    return this.ca.source();
  }
}
