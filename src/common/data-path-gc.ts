/**
 * How V8 collects the memory behind Buffers in the mesh's proxies (ztunnel, waypoint, sidecar, ingress
 * gateway; and the HBONE benchmark's). Imports only node builtins: it runs from each proxy's main.ts
 * before the program loads.
 *
 * A Buffer's bytes live outside the V8 heap ("external memory"). By default V8 starts a full
 * mark-compact each time external memory has grown by a fixed amount since the last one, whatever the
 * young-generation collections freed in between. A proxy allocates a Buffer for every socket read and
 * every HTTP/2 DATA chunk and drops it a moment later, so a bulk transfer at 300 MB/s meant 4–9 full
 * collections per second per ztunnel on a 14 MB heap, with their concurrent marking on V8's helper
 * threads: about a third of the CPU a ztunnel spent per MB (measured in the local cluster, docs/runtime.md).
 * With `--external-memory-accounted-in-global-limit` external memory counts against the heap's global
 * limit instead, which grows with the heap like the rest, so short-lived Buffers are left to the cheap
 * young-generation collections that free them anyway. The price: Buffers that died in the old
 * generation wait for the next full collection, which an idle process may not run for a long time;
 * every proxy's memory trim runs one after a burst (memory-trim.ts).
 *
 * `MESHLITE_V8_EXTERNAL_MEMORY=separate` keeps V8's default (for side-by-side benchmarks).
 */
import v8 from 'node:v8';

export const DATA_PATH_V8_FLAGS: readonly string[] = ['--external-memory-accounted-in-global-limit'];

/** Applies DATA_PATH_V8_FLAGS to this process unless the environment opts out; returns what it set. */
export function tuneGcForDataPath(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  const choice = env.MESHLITE_V8_EXTERNAL_MEMORY;
  if (choice === 'separate') return [];
  if (choice !== undefined && choice !== '' && choice !== 'global') {
    process.emitWarning(
      `MESHLITE_V8_EXTERNAL_MEMORY must be "global" (default) or "separate", not "${choice}"; using "global"`,
    );
  }
  for (const flag of DATA_PATH_V8_FLAGS) v8.setFlagsFromString(flag);
  return DATA_PATH_V8_FLAGS;
}
