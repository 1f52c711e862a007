/**
 * Node/V8 flags every launcher of ztunnel puts before `ztunnel/main.js` (the local cluster, its
 * loopback mode, the benchmarks; on Kubernetes the ztunnel DaemonSet sets them in NODE_OPTIONS). They must be on the command
 * line: V8 sizes its heap when the process starts.
 *
 * `--max-semi-space-size=2` (MB): V8's young generation grows to 16 MB per semi-space by default
 * under allocation pressure, and ztunnel's allocations (a request's buffers, a stream's objects) are
 * short-lived, so at 1000 req/s the default adds ~15 MB of resident memory per ztunnel that a 2 MB
 * nursery does without: the peak RSS of a ztunnel pair at 1000 req/s fell from ~205 to ~180 MB with
 * no change in CPU per request or latency (docs/runtime.md, "Memory of a Node process"). Workers
 * (`--workers`) inherit the flag through node:cluster.
 */
export const ZTUNNEL_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
