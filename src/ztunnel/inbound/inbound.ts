import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../common/logger.js';
import type { Drain } from '../../common/drain.js';
import { pump } from '../../common/pump.js';
import { errorMessage } from '../../common/errors.js';
import type { HboneRequest } from '../../hbone/request.js';
import { spiffeUri, type SpiffeId } from '../../pki/spiffe.js';
import type { StateStore } from '../state/store.js';
import type { Workload } from '../state/types.js';
import { authorize, type AuthzDecision } from '../authz/authorize.js';
import { policiesFor } from '../authz/policies-for.js';
import type { TcpMetrics, ConnectionLabels } from '../telemetry/metrics.js';
import { peerOf } from '../peer-info.js';
import { writeAccessLog } from '../access-log.js';
import { refuse, type ConnectionTracker, type TrackedInbound } from '../connections.js';

export interface InboundDeps {
  store: StateStore;
  nodeName: string;
  network: string;
  clusterId: string;
  metrics: TcpMetrics;
  log: Logger;
  tracker: ConnectionTracker;
  drain: Drain;
  /** ztunnel's own ports (15001, 15006, 15008): never a CONNECT target. */
  selfPorts: readonly number[];
  /**
   * Opens the connection to the app (in capture mode: from inside the pod's network namespace, with
   * the client's address `srcIp` as its source, so the app sees who called).
   */
  connectApp: (pod: Workload, ip: string, port: number, srcIp: string) => net.Socket;
}

/**
 * The destination side: HBONE streams from other ztunnels (15008) and plaintext connections from
 * outside the mesh (15006). Checks that the target is the pod the listener belongs to, applies L4
 * authorization, connects to the app and answers 200 only once that connection is up.
 */
export class Inbound {
  private readonly d: InboundDeps;

  constructor(deps: InboundDeps) {
    this.d = deps;
  }

  /** An HBONE CONNECT that arrived on `pod`'s inbound listener. */
  onHbone(req: HboneRequest, pod: Workload): void {
    const { store, network } = this.d;
    const started = performance.now();
    const target = req.target;
    const dst = store.workloadByAddress(network, target.ip);
    const srcIp = req.remoteAddress ?? '';
    // The source workload, when the connection comes from its IP and it holds the identity we verified.
    const maybeSrc = store.workloadByAddress(network, srcIp);
    const src = maybeSrc && maybeSrc.identityUri === req.peerUri ? maybeSrc : undefined;
    const labels = this.labels(src, dst ?? pod, req.peerUri, true);
    const fail = (status: 400 | 401 | 503, flag: string, reason: string, decision?: AuthzDecision): void => {
      req.reject(status);
      this.d.metrics.fail({ ...labels, responseFlags: flag });
      writeAccessLog(this.d.log, {
        direction: 'inbound',
        src: { ip: srcIp, identity: req.peerUri },
        dst: { ip: target.ip, port: target.port, workload: dst ?? pod, identity: pod.identityUri },
        path: 'hbone',
        bytesSent: 0,
        bytesReceived: 0,
        durationMs: performance.now() - started,
        result: status === 401 ? 'denied' : 'refused',
        reason: decision ? `${reason}: ${decision.reason}` : reason,
      });
    };
    if (this.d.selfPorts.includes(target.port))
      return fail(400, 'NR', `target port ${target.port} is one of ztunnel's own ports (self-call refused)`);
    if (!dst) return fail(503, 'NR', `no workload with IP ${target.ip} is known`);
    if (dst.uid !== pod.uid)
      return fail(400, 'NR', `target ${target.authority} is not this pod (${pod.namespace}/${pod.name})`);
    if (this.d.nodeName && dst.node !== this.d.nodeName)
      return fail(400, 'NR', `target workload runs on node ${dst.node}`);
    const decision = this.authorize(dst, req.peer, srcIp, target.ip, target.port);
    if (!decision.allowed) return fail(401, 'UAEX', 'denied by policy', decision);
    this.connect(dst, srcIp, req.peer, target.ip, target.port, started, labels, {
      accept: () => req.accept(),
      refuse: () => req.reject(503),
    });
  }

  /** A plaintext connection from outside the mesh to `pod` (original destination from capture). */
  onPlaintext(socket: net.Socket, pod: Workload, origDst: { ip: string; port: number }): void {
    const started = performance.now();
    const srcIp = socket.remoteAddress ?? '';
    const labels = this.labels(this.d.store.workloadByAddress(this.d.network, srcIp), pod, undefined, false);
    const decision = this.authorize(pod, undefined, srcIp, origDst.ip, origDst.port);
    if (!decision.allowed) {
      refuse(socket);
      this.d.metrics.fail({ ...labels, responseFlags: 'UAEX' });
      writeAccessLog(this.d.log, {
        direction: 'inbound',
        src: { ip: srcIp, port: socket.remotePort },
        dst: { ip: origDst.ip, port: origDst.port, workload: pod, identity: pod.identityUri },
        path: 'plaintext',
        bytesSent: 0,
        bytesReceived: 0,
        durationMs: performance.now() - started,
        result: 'denied',
        reason: `plaintext (no mTLS identity) denied: ${decision.reason}`,
      });
      return;
    }
    this.connect(pod, srcIp, undefined, origDst.ip, origDst.port, started, labels, {
      accept: () => socket,
      refuse: () => refuse(socket),
    });
  }

  /** Re-checks every live inbound connection against the current policies; closes the denied ones. */
  recheck(): number {
    let closed = 0;
    for (const c of this.d.tracker.inbound) {
      const dst = this.d.store.workloadByUid(c.dst.uid) ?? c.dst;
      const decision = this.authorize(dst, c.srcIdentity, c.srcIp, c.dstIp, c.dstPort);
      if (decision.allowed) continue;
      closed++;
      this.d.log.info(
        {
          dst: `${dst.namespace}/${dst.name}`,
          src: c.srcIdentity ? spiffeUri(c.srcIdentity) : c.srcIp,
          reason: decision.reason,
        },
        'closing a live connection: policy now denies it',
      );
      c.abort(new Error(`policy now denies this connection: ${decision.reason}`));
    }
    return closed;
  }

  private authorize(
    dst: Workload,
    srcIdentity: SpiffeId | undefined,
    srcIp: string,
    dstIp: string,
    dstPort: number,
  ): AuthzDecision {
    return authorize(
      { srcIdentity, srcIp, dstIp, dstPort, dstWorkload: dst },
      policiesFor(this.d.store, dst),
    );
  }

  private labels(
    src: Workload | undefined,
    dst: Workload,
    srcPrincipal: string | undefined,
    mtls: boolean,
  ): ConnectionLabels {
    return {
      reporter: 'destination',
      source: peerOf(src, srcPrincipal, this.d.clusterId),
      destination: peerOf(dst, undefined, this.d.clusterId),
      mtls,
    };
  }

  private connect(
    dst: Workload,
    srcIp: string,
    srcIdentity: SpiffeId | undefined,
    dstIp: string,
    dstPort: number,
    started: number,
    labels: ConnectionLabels,
    down: { accept: () => Duplex | undefined; refuse: () => void },
  ): void {
    const done = this.d.drain.begin();
    const app = this.d.connectApp(dst, dstIp, dstPort, srcIp);
    const tracked: TrackedInbound = {
      dst,
      srcIdentity,
      srcIp,
      dstIp,
      dstPort,
      pump: undefined,
      abort: (reason) => {
        if (tracked.pump) tracked.pump.abort(reason);
        else app.destroy(reason);
      },
    };
    const untrack = this.d.tracker.add(tracked);
    const record = (result: string, sent: number, received: number, reason?: string): void => {
      writeAccessLog(this.d.log, {
        direction: 'inbound',
        src: { ip: srcIp, identity: srcIdentity ? spiffeUri(srcIdentity) : undefined },
        dst: { ip: dstIp, port: dstPort, workload: dst, identity: dst.identityUri },
        path: srcIdentity ? 'hbone' : 'plaintext',
        bytesSent: sent,
        bytesReceived: received,
        durationMs: performance.now() - started,
        result,
        reason,
      });
    };
    app.once('error', (err) => {
      if (tracked.pump) return;
      untrack();
      done();
      down.refuse();
      this.d.metrics.fail({ ...labels, responseFlags: 'UF' });
      record('refused', 0, 0, `the app at ${dstIp}:${dstPort} refused: ${errorMessage(err)}`);
    });
    app.once('connect', () => {
      const stream = down.accept();
      if (!stream) {
        untrack();
        done();
        app.destroy();
        return;
      }
      const opened = this.d.metrics.open(labels);
      tracked.pump = pump(stream, app, (r) => {
        untrack();
        done();
        // sent = toward the destination app; received = back to the source.
        this.d.metrics.close(opened, r.aToB, r.bToA);
        record(r.abortedBy ? 'reset' : 'ok', r.aToB, r.bToA, r.error ? errorMessage(r.error) : undefined);
      });
    });
  }
}
