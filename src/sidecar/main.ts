#!/usr/bin/env node
// Checks the Node.js version first, then loads the program (entry.ts), so that an old Node fails with
// a clear message rather than on some newer API deep in the import graph.
import { tuneGcForDataPath } from '../common/data-path-gc.js';
import { checkRuntime } from '../common/runtime.js';

if (checkRuntime('sidecar')) {
  tuneGcForDataPath();
  await import('./entry.js');
}
