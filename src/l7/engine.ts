/**
 * The L7 engine: one per proxy, shared by every listener (the waypoint's HBONE listener today; the
 * sidecar's and the ingress gateway's later). A listener hands it a connection with who is calling and
 * where it was going; the engine picks the service port from that target (never from `Host`), detects
 * the protocol, and runs HTTP/1.1 or h2c requests through the filter chain, or passes TCP through.
 * `update()` swaps the compiled configuration and the chain built for it; requests in flight keep theirs.
 */
import { weightedPick } from './route/decide.js';
import { coversHost } from '../common/hostname.js';
import { peekServerName } from './http/client-hello.js';
import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import { errorMessage } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { pump } from '../common/pump.js';
import { Balancer } from './cluster/balancer.js';
import { CircuitBreakers } from './cluster/circuit-breaker.js';
import { clusterMetrics } from './cluster/cluster-metrics.js';
import { OutlierDetector } from './cluster/outlier.js';
import { socketLike, UpstreamClient, type Connector } from './cluster/upstream.js';
import { compileConfig, portFor, type CompiledConfig, type CompiledPort } from './compile.js';
import { CorsFilter } from './filters/cors.js';
import { FaultFilter } from './filters/fault.js';
import { FilterChain } from './filters/filter.js';
import { JwtAuthnFilter } from './filters/jwt-authn.js';
import { RbacFilter } from './filters/rbac.js';
import { RouterFilter } from './filters/router.js';
import { Exchange, type ConnInfo, type DownRequest, type DownResponse } from './http/exchange.js';
import { declared, sniff } from './http/sniff.js';
import { readableThroughStreams } from './http/js-duplex.js';
import { propagateTrace } from './http/trace.js';
import type { L7Config } from './model.js';
import { decide } from './route/decide.js';
import { HttpTelemetry } from './telemetry.js';
import { JwksCache } from './security/jwks-cache.js';
import { SecurityMetrics } from './security/security-metrics.js';

export interface EngineOptions {
  connector: Connector;
  log: Logger;
  registry: Registry;
  reporter: string;
  clusterId?: string;
  accessLog?: boolean;
  random?: () => number;
  /** Request headers limit (431 above it); Envoy/Istio: 60 KiB. */
  maxHeaderBytes?: number;
  /** Time for a client to send the request headers; default 60 s. */
  headersTimeoutMs?: number;
  /** jwksUri refresh and retry periods (defaults 20 min and 1 min). */
  jwksRefreshMs?: number;
  jwksRetryMs?: number;
}

interface Active {
  config: CompiledConfig;
  chain: FilterChain;
}

const EMPTY: L7Config = { proxy: '', services: [], clusters: [] };

export class L7Engine {
  private active: Active;
  private readonly client: UpstreamClient;
  private readonly balancer = new Balancer();
  private readonly telemetry: HttpTelemetry;
  private readonly random: () => number;
  private readonly h1: http.Server;
  private readonly conns = new WeakMap<object, ConnInfo>();
  private readonly sockets = new Set<Duplex>();
  readonly jwks: JwksCache;
  readonly breakers: CircuitBreakers;
  readonly outlier: OutlierDetector;
  private readonly security: SecurityMetrics;

  constructor(private readonly o: EngineOptions) {
    this.random = o.random ?? Math.random;
    this.client = new UpstreamClient(o.connector);
    this.telemetry = new HttpTelemetry({
      registry: o.registry,
      log: o.log,
      reporter: o.reporter,
      clusterId: o.clusterId ?? 'Kubernetes',
      accessLog: o.accessLog ?? true,
    });
    this.jwks = new JwksCache({ log: o.log, refreshMs: o.jwksRefreshMs, retryMs: o.jwksRetryMs });
    this.security = new SecurityMetrics(o.registry);
    const cm = clusterMetrics(o.registry);
    this.breakers = new CircuitBreakers(cm.overflow);
    this.outlier = new OutlierDetector(cm.outlier);
    this.active = this.build(EMPTY);
    const headersTimeout = o.headersTimeoutMs ?? 60_000;
    this.h1 = http.createServer(
      {
        maxHeaderSize: o.maxHeaderBytes ?? 60 * 1024,
        headersTimeout,
        requestTimeout: 0,
        keepAliveTimeout: 3_600_000,
        connectionsCheckingInterval: Math.min(1000, Math.max(50, headersTimeout >> 1)),
      },
      (req, res) => this.onRequest(req, res, this.conns.get(req.socket)),
    );
    // Connections come from the listeners, never from listen(): node:http starts its headers-timeout
    // sweep on 'listening', so start it here (slow headers: 408 and the connection closed).
    this.h1.emit('listening');
    // CONNECT inside HTTP/1.1 is not proxied (no CONNECT routes): refused and closed at once.
    this.h1.on('connect', (_req: http.IncomingMessage, sock: Duplex) => {
      sock.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    });
  }

  /** Compiles a new configuration and the filter chain for it (once per push). */
  update(cfg: L7Config): void {
    this.active = this.build(cfg);
    this.outlier.retain(cfg.clusters);
    this.breakers.retain(new Set(cfg.clusters.map((c) => c.name)));
  }

  get config(): CompiledConfig {
    return this.active.config;
  }

  /** Downstream connections open now (leak checks, debug views). */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** The service port a target names, if this proxy serves it. */
  portFor(ip: string, port: number): CompiledPort | undefined {
    return portFor(this.active.config, ip, port);
  }

  /** Serves one downstream connection whose target this proxy serves. */
  serve(socket: Duplex, conn: ConnInfo): void {
    const target = this.portFor(conn.targetIp, conn.targetPort);
    if (!target) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', (err) => this.o.log.debug({ err: errorMessage(err) }, 'downstream connection error'));
    if (target.port.sni) return this.passthrough(socket, target, target.port.sni, conn);
    const known = declared(target.port.protocol);
    if (known === 'tcp') return this.tcp(socket, target, conn);
    sniff(socket, (d) => {
      if (d === 'tcp' && known !== 'http') return this.tcp(socket, target, conn);
      if (d === 'http2') return this.h2(readableThroughStreams(socket), conn);
      this.conns.set(socket, conn);
      this.h1.emit('connection', socketLike(socket));
      socket.resume();
    });
  }

  /** Closes upstream connections and open downstream ones. */
  close(): void {
    this.h1.close(ignore); // stops the sweep; there is no listening socket to close
    this.client.close();
    this.jwks.close();
    this.outlier.close();
    for (const s of this.sockets) s.destroy();
  }

  private build(cfg: L7Config): Active {
    const config = compileConfig(cfg);
    const chain = new FilterChain([
      new JwtAuthnFilter(cfg, this.jwks, this.security, this.o.log),
      new RbacFilter(cfg, this.security, this.o.log),
      new CorsFilter(),
      new FaultFilter(this.random),
      new RouterFilter({
        client: this.client,
        balancer: this.balancer,
        random: this.random,
        log: this.o.log,
        breakers: this.breakers,
        outlier: this.outlier,
      }),
    ]);
    return { config, chain };
  }

  private h2(socket: Duplex, conn: ConnInfo): void {
    const srv = http2.createServer({
      maxHeaderListPairs: 100,
      settings: { maxHeaderListSize: this.o.maxHeaderBytes ?? 60 * 1024 },
    });
    srv.on('request', (req, res) => this.onRequest(req as never, res as never, conn));
    srv.on('sessionError', (err) => {
      this.o.log.debug({ err: errorMessage(err) }, 'h2 downstream error');
      // A protocol error ends the connection: the GOAWAY goes out, then the stream closes.
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
    srv.emit('connection', socketLike(socket));
    socket.resume();
  }

  private onRequest(req: DownRequest, res: DownResponse, conn: ConnInfo | undefined): void {
    const { config, chain } = this.active;
    const port = conn ? portFor(config, conn.targetIp, conn.targetPort) : undefined;
    if (!conn || !port) {
      res.writeHead(503, { 'content-length': 0, server: 'istio-envoy' });
      res.end();
      return;
    }
    propagateTrace(req.headers, config.samplingPercent, Math.random);
    const ex = new Exchange(req, res, conn, port, config.clusters);
    let recorded = false;
    const record = (): void => {
      if (recorded) return;
      recorded = true;
      ex.done = true;
      if (ex.status === 0) ex.flags = 'DC';
      this.telemetry.record(ex);
    };
    res.once('finish', record);
    res.once('close', record);
    ex.decision = decide(ex, port, config, this.random);
    chain.run(ex).catch((err: unknown) => {
      this.o.log.error({ err: errorMessage(err) }, 'l7: request failed in the filter chain');
      ex.reply('upstream_reset');
    });
  }

  /** TLS passthrough: routed by the ClientHello's server name, never decrypted. */
  private passthrough(
    socket: Duplex,
    target: CompiledPort,
    routes: NonNullable<CompiledPort['port']['sni']>,
    conn: ConnInfo,
  ): void {
    peekServerName(socket, (sni) => {
      // An exact name wins over a wildcard, as Envoy's server_names match.
      const route = sni
        ? (routes.find((r) => r.hosts.some((h) => h.toLowerCase() === sni)) ??
          routes.find((r) => r.hosts.some((h) => coversHost(h, sni))))
        : undefined;
      if (!route) {
        this.o.log.info(
          { src: `${conn.sourceIp}:${conn.sourcePort}`, port: target.port.port, sni: sni ?? '-' },
          sni === null
            ? 'tls passthrough: not a TLS ClientHello; closed'
            : 'tls passthrough: no route for the server name; closed',
        );
        socket.destroy();
        return;
      }
      const b = route.backends;
      const total = b ? b.reduce((n, x) => n + Math.max(0, x.weight), 0) : 0;
      this.tcp(
        socket,
        target,
        conn,
        b && total > 0 ? weightedPick(b, total, this.random).cluster : route.cluster,
      );
    });
  }

  private tcp(
    socket: Duplex,
    target: CompiledPort,
    conn: ConnInfo,
    clusterName = target.defaultCluster,
  ): void {
    const cluster = this.active.config.clusters.get(clusterName);
    const ep = cluster ? this.balancer.pick(cluster, conn.sourceIp, this.random) : undefined;
    if (!ep) {
      this.o.log.warn({ service: target.service.hostname }, 'tcp: no endpoint; closing');
      socket.destroy();
      return;
    }
    this.o.connector.connect(ep).then(
      (up) => {
        socket.resume();
        pump(socket, up, (r) =>
          this.o.log.info(
            {
              src: `${conn.sourceIp}:${conn.sourcePort}`,
              dst: `${ep.ip}:${ep.port}`,
              sent: r.aToB,
              received: r.bToA,
            },
            'tcp access',
          ),
        );
      },
      (err: unknown) => {
        this.o.log.warn(
          { dst: `${ep.ip}:${ep.port}`, err: errorMessage(err) },
          'tcp: upstream connect failed',
        );
        socket.destroy();
      },
    );
  }
}

function ignore(): void {}
