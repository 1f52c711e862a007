/**
 * HBONE in: each CONNECT names the original destination (a service VIP:port, or a bound pod's
 * IP:port). The service comes from that authority, never from `Host`; a target this waypoint does not
 * serve is refused (503). The client's address and workload come from the tunnel's `forwarded` and
 * `baggage` headers, its identity from its certificate.
 */
import type { Logger } from '../common/logger.js';
import type { HboneRequest } from '../hbone/request.js';
import { parseForwardedFor } from '../hbone/headers.js';
import type { L7Engine } from '../l7/engine.js';
import type { ConnInfo } from '../l7/http/exchange.js';

/** Workload fields of a W3C baggage header as ztunnel sends them. */
export function parseBaggage(v: string | undefined): {
  namespace?: string;
  workload?: string;
  app?: string;
  version?: string;
} {
  const out: { namespace?: string; workload?: string; app?: string; version?: string } = {};
  for (const part of (v ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    const val = part.slice(eq + 1).trim();
    if (k === 'k8s.namespace.name') out.namespace = val;
    else if (k === 'service.name') out.app = val;
    else if (k === 'service.version') out.version = val;
    else if (/^k8s\.[a-z]+\.name$/.test(k) && k !== 'k8s.cluster.name') out.workload = val;
  }
  return out;
}

function splitAddr(a: string | undefined): { ip: string; port: number } {
  if (!a) return { ip: '', port: 0 };
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(a);
  return m ? { ip: m[1]!, port: Number(m[2]) } : { ip: a, port: 0 };
}

export function handleTunnel(req: HboneRequest, engine: L7Engine, log: Logger): void {
  const t = req.target;
  if (!engine.portFor(t.ip, t.port)) {
    log.warn(
      { target: t.authority, peer: req.peerUri },
      'waypoint: tunnel to a target this waypoint does not serve; refused',
    );
    req.reject(503);
    return;
  }
  const stream = req.accept();
  if (!stream) return;
  const src = splitAddr(parseForwardedFor(String(req.headers.forwarded ?? '')) ?? req.remoteAddress);
  const b = parseBaggage(req.headers.baggage as string | undefined);
  const conn: ConnInfo = {
    targetIp: t.ip,
    targetPort: t.port,
    sourceIp: src.ip,
    sourcePort: src.port,
    sourcePrincipal: req.peerUri,
    sourceNamespace: b.namespace ?? req.peer.namespace,
    sourceWorkload: b.workload,
    sourceApp: b.app,
    sourceVersion: b.version,
    mtls: true,
  };
  engine.serve(stream, conn);
}
