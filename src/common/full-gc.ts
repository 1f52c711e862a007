/**
 * A full garbage collection on demand, without starting Node with `--expose-gc`: the flag is set at
 * runtime and a fresh V8 context then has `gc` (contexts made before it do not, so the program's own
 * global stays as it was). Used by ztunnel's memory trim after a burst: Buffers that died in the old
 * generation are otherwise only freed at the next full collection, which an idle proxy may not run
 * for a long time (docs/runtime.md).
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let collect: (() => void) | null | undefined;

/** Runs a full (mark-compact) collection; false when this runtime offers no way to. */
export function fullGc(): boolean {
  if (collect === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      const fn: unknown = vm.runInNewContext('gc');
      collect = typeof fn === 'function' ? (fn as () => void) : null;
    } catch {
      collect = null;
    }
  }
  if (collect === null) return false;
  collect();
  return true;
}
