/**
 * What the benchmark's processes say to each other: the wire protocol of the test server, the IPC
 * messages between the runner and its children, and the shapes of the results.
 */

/** Size of one request and of one response in the request/response tests. */
export const MESSAGE_SIZE = 1024;

/**
 * The first byte a client sends on a connection to the test server picks what the server does with
 * the rest of it.
 */
export const Mode = {
  /** Every 1 KiB received is answered with 1 KiB (fixed-size framing, so no parsing). */
  RequestResponse: 0x45, // 'E'
  /** Counts every byte until the client half-closes, then answers the count (8 bytes, BE) and ends. */
  Sink: 0x53, // 'S'
  /** Echoes whatever arrives (the tiny round trip of the new-tunnel test). */
  Ping: 0x50, // 'P'
} as const;

/** A child is up and listening (proxies and the server) or ready for commands (the load generator). */
export interface ReadyMessage {
  type: 'ready';
  port: number;
}

export interface StopMessage {
  type: 'stop';
}

/** Runner → load generator. */
export interface RunMessage {
  type: 'run';
  id: number;
  test: LoadTest;
}

/** Load generator → runner. */
export interface ResultMessage {
  type: 'result';
  id: number;
  result: TestResult;
}

export type LoadTest =
  | { kind: 'fixedRate'; port: number; rate: number; connections: number; durationMs: number }
  | { kind: 'closedLoop'; port: number; durationMs: number }
  | { kind: 'bulk'; port: number; durationMs: number; chunkSize: number }
  | { kind: 'tunnels'; port: number; durationMs: number; workers: number };

export type TestKind = LoadTest['kind'];

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Every test reports what it completed, what failed, and the first error text. */
export interface TestResult {
  kind: TestKind;
  /** Completed operations: responses, round trips, tunnels, or bytes (bulk). */
  count: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  /** Latency in ms (request/response and tunnels); for fixed rate, from the intended send time. */
  latencyMs?: Percentiles;
  /** Fixed rate only: latency from the moment the request was actually written. */
  serviceMs?: Percentiles;
  /** Operations (or bytes for bulk) per second. */
  perSec: number;
}
