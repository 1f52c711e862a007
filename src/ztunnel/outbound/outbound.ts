import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../common/logger.js';
import type { Drain } from '../../common/drain.js';
import { pump } from '../../common/pump.js';
import { errorMessage } from '../../common/errors.js';
import type { HbonePool } from '../../hbone/pool.js';
import { HboneError } from '../../hbone/errors.js';
import { forwardedFor, baggage } from '../../hbone/headers.js';
import { formatAuthority } from '../../hbone/authority.js';
import type { StateStore } from '../state/store.js';
import type { Workload } from '../state/types.js';
import { decideOutbound, type Plan, type SocketAddr } from './decide.js';
import type { TcpMetrics, ConnectionLabels } from '../telemetry/metrics.js';
import { peerOf } from '../peer-info.js';
import { writeAccessLog } from '../access-log.js';
import type { IdentityProvider } from '../identity.js';
import type { ConnectionTracker } from '../connections.js';

export interface OutboundDeps {
  store: StateStore;
  pool: HbonePool;
  identities: IdentityProvider;
  metrics: TcpMetrics;
  log: Logger;
  drain: Drain;
  tracker: ConnectionTracker;
  nodeName: string;
  nodeIps: readonly string[];
  clusterId: string;
  selfPorts: readonly number[];
  /** Plain TCP to a destination outside HBONE (capture mode: marked so it is not captured again). */
  connectDirect: (src: Workload, target: SocketAddr) => net.Socket;
  /** Source address / socket factory for HBONE connections of `src` (loopback: bind its pod IP). */
  hboneLocal: (src: Workload) => { localAddress?: string; dial?: (host: string, port: number) => Duplex };
  random?: () => number;
}

/** How the downstream is answered: capture hands over the socket; SOCKS5 replies first. */
export interface Downstream {
  client: { ip: string; port: number };
  /** The connection is set up: returns the stream to pump (SOCKS5 sends its success reply here). */
  accept(): Duplex | undefined;
  /** Setting up failed or was denied. */
  refuse(kind: 'denied' | 'unreachable'): void;
}

/**
 * The source side: decide (a pure function of the state), then move bytes. HBONE to the destination
 * pod or its waypoint with the source pod's certificate and the destination identity checked; plain
 * TCP to workloads outside the ambient mesh; passthrough outside the mesh; refusal otherwise.
 */
export class Outbound {
  private readonly d: OutboundDeps;
  private readonly random: () => number;

  constructor(deps: OutboundDeps) {
    this.d = deps;
    this.random = deps.random ?? Math.random;
  }

  decide(src: Workload, dst: SocketAddr): Plan {
    return decideOutbound(src, dst, this.d.store, {
      selfPorts: this.d.selfPorts,
      nodeName: this.d.nodeName,
      nodeIps: this.d.nodeIps,
      random: this.random,
    });
  }

  handle(src: Workload, origDst: SocketAddr, down: Downstream): void {
    const started = performance.now();
    const plan = this.decide(src, origDst);
    if (plan.kind === 'deny') {
      down.refuse('denied');
      this.d.metrics.fail({
        reporter: 'source',
        source: peerOf(src),
        destination: {},
        mtls: false,
        responseFlags: 'UAEX',
      });
      writeAccessLog(this.d.log, {
        direction: 'outbound',
        src: { ip: down.client.ip, port: down.client.port, workload: src, identity: src.identityUri },
        dst: { ip: origDst.ip, port: origDst.port },
        path: 'denied',
        bytesSent: 0,
        bytesReceived: 0,
        durationMs: performance.now() - started,
        result: 'refused',
        reason: `${plan.code}: ${plan.reason}`,
      });
      return;
    }
    const dstWorkload =
      plan.kind === 'passthrough' ? undefined : plan.kind === 'waypoint' ? plan.waypoint : plan.dstWorkload;
    const service = plan.kind === 'passthrough' ? undefined : plan.service;
    const labels: ConnectionLabels = {
      reporter: 'source',
      source: peerOf(src, undefined, this.d.clusterId),
      destination: peerOf(dstWorkload, undefined, this.d.clusterId),
      service: service
        ? { hostname: service.hostname, namespace: service.namespace, name: service.name }
        : undefined,
      mtls: plan.kind === 'hbone' || plan.kind === 'waypoint',
    };
    const done = this.d.drain.begin();
    this.d.tracker.outbound++;
    const finish = (result: string, sent: number, received: number, reason?: string): void => {
      this.d.tracker.outbound--;
      done();
      writeAccessLog(this.d.log, {
        direction: 'outbound',
        src: { ip: down.client.ip, port: down.client.port, workload: src, identity: src.identityUri },
        dst: {
          ip: plan.target.ip,
          port: plan.target.port,
          workload: dstWorkload,
          identity:
            plan.kind === 'hbone' || plan.kind === 'waypoint' ? plan.expectedIdentities[0] : undefined,
        },
        service: service?.hostname,
        path: plan.kind,
        bytesSent: sent,
        bytesReceived: received,
        durationMs: performance.now() - started,
        result,
        reason,
      });
    };
    const failed = (flag: string, reason: string, kind: 'denied' | 'unreachable'): void => {
      down.refuse(kind);
      this.d.metrics.fail({ ...labels, responseFlags: flag });
      finish(kind === 'denied' ? 'denied' : 'refused', 0, 0, reason);
    };
    const run = (upstream: Duplex): void => {
      const stream = down.accept();
      if (!stream) {
        upstream.destroy();
        this.d.tracker.outbound--;
        done();
        return;
      }
      const opened = this.d.metrics.open(labels);
      pump(stream, upstream, (r) => {
        this.d.metrics.close(opened, r.aToB, r.bToA);
        finish(r.abortedBy ? 'reset' : 'ok', r.aToB, r.bToA, r.error ? errorMessage(r.error) : undefined);
      });
    };

    if (plan.kind === 'passthrough' || plan.kind === 'plaintext') {
      const up = this.d.connectDirect(src, plan.target);
      const onErr = (err: Error): void =>
        failed('UF', `connect ${plan.target.ip}:${plan.target.port}: ${errorMessage(err)}`, 'unreachable');
      up.once('error', onErr);
      up.once('connect', () => {
        up.off('error', onErr);
        run(up);
      });
      return;
    }

    // HBONE, to the destination pod or to its waypoint.
    this.d.identities.get(src.identity).then(
      (source) =>
        this.d.pool
          .connect({
            source,
            host: plan.gateway.ip,
            port: plan.gateway.port,
            expectedIdentities: plan.expectedIdentities,
            target: formatAuthority(plan.target.ip, plan.target.port),
            forwarded: forwardedFor(down.client.ip, down.client.port, service?.hostname),
            baggage: baggage({
              clusterName: src.clusterId,
              namespace: src.namespace,
              workloadType: src.workloadType,
              workloadName: src.workloadName || src.name,
              serviceName: src.canonicalName,
              serviceVersion: src.canonicalRevision,
            }),
            ...this.d.hboneLocal(src),
          })
          .then(run, (err: unknown) => {
            const status = err instanceof HboneError ? err.status : undefined;
            failed(
              status === 401 ? 'UAEX' : 'UF',
              errorMessage(err),
              status === 401 ? 'denied' : 'unreachable',
            );
          }),
      (err: unknown) =>
        failed('UF', `no certificate for ${src.identityUri}: ${errorMessage(err)}`, 'unreachable'),
    );
  }
}
