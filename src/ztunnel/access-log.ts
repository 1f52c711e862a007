import type { Logger } from '../common/logger.js';
import type { Workload } from './state/types.js';

/** One access record per connection, written at close (never per chunk). */
export interface AccessRecord {
  direction: 'inbound' | 'outbound';
  src: { ip: string; port?: number; identity?: string; workload?: Workload };
  dst: { ip: string; port: number; identity?: string; workload?: Workload };
  service?: string;
  /** hbone | plaintext | passthrough | waypoint | denied | failed */
  path: string;
  bytesSent: number;
  bytesReceived: number;
  durationMs: number;
  /** ok | denied | refused | error | reset */
  result: string;
  reason?: string;
}

function who(w: Workload | undefined): string | undefined {
  return w ? `${w.namespace}/${w.name}` : undefined;
}

export function writeAccessLog(log: Logger, r: AccessRecord): void {
  log.info(
    {
      access: true,
      direction: r.direction,
      src_ip: r.src.port ? `${r.src.ip}:${r.src.port}` : r.src.ip,
      src_workload: who(r.src.workload),
      src_identity: r.src.identity,
      dst_addr: `${r.dst.ip}:${r.dst.port}`,
      dst_workload: who(r.dst.workload),
      dst_identity: r.dst.identity,
      dst_service: r.service,
      path: r.path,
      bytes_sent: r.bytesSent,
      bytes_recv: r.bytesReceived,
      duration_ms: Math.round(r.durationMs * 10) / 10,
      result: r.result,
      reason: r.reason,
    },
    r.direction === 'inbound' ? 'connection complete (inbound)' : 'connection complete (outbound)',
  );
}
