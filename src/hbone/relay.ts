import net from 'node:net';
import type { Duplex } from 'node:stream';
import { pump, resetStream, type BytePump, type PumpResult } from '../common/pump.js';
import type { HboneRequest } from './request.js';
import type { HbonePool, TunnelRequest } from './pool.js';
import type { HboneError } from './errors.js';

export interface RelayOutcome {
  /** 200 when the tunnel carried bytes; otherwise the status answered/received. */
  status: number;
  /** Byte counts and how the pump ended (absent when no tunnel was set up). */
  result: PumpResult | undefined;
  error: Error | undefined;
}

/**
 * Server side of a tunnel: connects to the target over TCP and answers 200 only once that connection
 * is up (503 when it fails), then pumps bytes until both sides are done.
 * `dial` overrides where to connect (default: the CONNECT target itself).
 */
export function relayToTcp(
  req: HboneRequest,
  done: (outcome: RelayOutcome) => void,
  dial?: { host: string; port: number; localAddress?: string },
): void {
  const upstream = net.connect({
    host: dial?.host ?? req.target.ip,
    port: dial?.port ?? req.target.port,
    localAddress: dial?.localAddress,
    allowHalfOpen: true,
    noDelay: true,
  });
  const onConnectError = (err: Error): void => {
    req.reject(503);
    done({ status: 503, result: undefined, error: err });
  };
  upstream.once('error', onConnectError);
  upstream.once('connect', () => {
    upstream.off('error', onConnectError);
    const stream = req.accept();
    if (!stream) {
      upstream.destroy();
      done({ status: 499, result: undefined, error: undefined });
      return;
    }
    pump(stream, upstream, (result) => done({ status: 200, result, error: result.error }));
  });
}

/**
 * Client side of a tunnel: opens a CONNECT through the pool and pumps `downstream` (an accepted TCP
 * socket, usually) through it. On failure the downstream connection is reset.
 * Returns the pump once the tunnel is up, through `done` at the end.
 */
export function relayFromStream(
  downstream: Duplex,
  pool: HbonePool,
  tunnel: TunnelRequest,
  done: (outcome: RelayOutcome) => void,
  onUp?: (p: BytePump) => void,
): void {
  pool.connect(tunnel).then(
    (stream) => {
      if (downstream.destroyed) {
        resetStream(stream);
        done({ status: 499, result: undefined, error: undefined });
        return;
      }
      const p = pump(downstream, stream, (result) => done({ status: 200, result, error: result.error }));
      onUp?.(p);
    },
    (err: HboneError) => {
      resetStream(downstream);
      done({ status: err.status ?? 0, result: undefined, error: err });
    },
  );
}
