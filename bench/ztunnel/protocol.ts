/** What the ztunnel benchmark's runner and load generator say to each other, and the result shapes. */
import type { Percentiles } from '../hbone/protocol.js';

/** Where a client connects: straight to a TCP port, or through a ztunnel's SOCKS5 from a pod IP. */
export type Target =
  | { via: 'tcp'; host: string; port: number }
  | {
      via: 'socks5';
      proxy: { host: string; port: number };
      localAddress: string;
      dst: { ip: string; port: number };
    };

export type ZtLoadTest =
  | { kind: 'fixedRate'; target: Target; rate: number; connections: number; durationMs: number }
  | { kind: 'connRate'; target: Target; durationMs: number; workers: number }
  /** Opens `count` connections, one request on each (so the whole path is up), and keeps them. */
  | { kind: 'idleOpen'; target: Target; count: number }
  /** Closes the connections `idleOpen` kept. */
  | { kind: 'idleClose' };

export type ZtTestKind = ZtLoadTest['kind'];

export interface ZtTestResult {
  kind: ZtTestKind;
  count: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  /** fixedRate: from the intended send time; connRate: connect → response. */
  latencyMs?: Percentiles;
  /** fixedRate: from the actual write. */
  serviceMs?: Percentiles;
  perSec: number;
}

export interface ZtRunMessage {
  type: 'run';
  id: number;
  test: ZtLoadTest;
}

export interface ZtResultMessage {
  type: 'result';
  id: number;
  result: ZtTestResult;
}
