/** Fault injection (Envoy's fault filter): a delay and/or an abort, each with its percentage. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Exchange } from '../http/exchange.js';
import type { HttpFilter } from './filter.js';

export class FaultFilter implements HttpFilter {
  readonly name = 'envoy.filters.http.fault';

  constructor(private readonly random: () => number) {}

  onRequest(ex: Exchange): boolean | Promise<boolean> {
    const d = ex.decision;
    const fault = d?.kind === 'forward' ? d.fault : undefined;
    if (!fault) return true;
    const delayed = fault.delay !== undefined && this.random() * 100 < fault.delay.percent;
    if (!delayed) return this.abort(ex);
    ex.faultFlag = 'DI';
    return sleep(fault.delay!.ms).then(() => this.abort(ex));
  }

  private abort(ex: Exchange): boolean {
    const d = ex.decision;
    const abort = d?.kind === 'forward' ? d.fault?.abort : undefined;
    if (!abort || !(this.random() * 100 < abort.percent)) return true;
    if (abort.grpcStatus !== undefined) {
      ex.respond(200, '', 'FI', 'fault_filter_abort', {
        'content-type': 'application/grpc',
        'grpc-status': String(abort.grpcStatus),
        'grpc-message': 'fault filter abort',
      });
      ex.grpcStatus = String(abort.grpcStatus);
    } else ex.respond(abort.status, 'fault filter abort', 'FI', 'fault_filter_abort');
    return false;
  }
}
