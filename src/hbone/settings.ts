/**
 * HBONE's numbers, as Istio's ztunnel uses them (see shared/reference/istio-wire-facts.md).
 * Every option of the server and the pool defaults to these and can be overridden per instance.
 */
export const HBONE_PORT = 15008;

const MiB = 1024 * 1024;

export const HBONE_DEFAULTS = {
  /** HTTP/2 per-stream receive window (SETTINGS_INITIAL_WINDOW_SIZE). */
  streamWindow: 4 * MiB,
  /** HTTP/2 connection receive window (raised with setLocalWindowSize). */
  connectionWindow: 16 * MiB,
  /** SETTINGS_MAX_FRAME_SIZE we accept. */
  maxFrameSize: 1 * MiB,
  /** Concurrent CONNECT streams a server accepts on one connection. */
  maxConcurrentStreams: 200,
  /** Largest header list (bytes, HPACK-decoded) we accept. */
  maxHeaderListSize: 16 * 1024,
  /** nghttp2 session memory cap in MB (Node's default of 10 is too small for 16 MiB windows). */
  maxSessionMemoryMb: 256,
  /** Send a PING this often on every connection... */
  keepaliveIntervalMs: 10_000,
  /** ...and drop the connection when its answer has not come back within this. */
  keepaliveTimeoutMs: 20_000,
  /** A peer must finish the TLS handshake within this. */
  handshakeTimeoutMs: 10_000,
  /** Server: close a connection that has had no stream for this long. */
  serverIdleTimeoutMs: 10 * 60_000,
  /** Client: TCP + TLS + HTTP/2 setup must finish within this. */
  connectTimeoutMs: 10_000,
  /** Client: open a new connection once one carries this many streams. */
  poolMaxStreamsPerConnection: 100,
  /** Client: release a connection idle (no streams) for this long. */
  poolIdleTimeoutMs: 5 * 60_000,
} as const;

/** TLS 1.3 suites we offer and accept (AES-GCM only, as ztunnel). */
export const HBONE_CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384';

/**
 * Which HTTP/2 implementation carries HBONE: `node` (node:http2, i.e. nghttp2) or `own` (the minimal
 * framer in src/hbone/h2/, directly on the TLS socket). Chosen per server/pool with the `impl` option,
 * else by the HBONE_IMPL environment variable, else `node`.
 */
export type HboneImpl = 'node' | 'own';

export function hboneImpl(explicit?: HboneImpl): HboneImpl {
  if (explicit) return explicit;
  const env = process.env.HBONE_IMPL;
  if (env === undefined || env === '') return 'node';
  if (env === 'node' || env === 'own') return env;
  throw new Error(`HBONE_IMPL must be "node" or "own", not "${env}"`);
}
