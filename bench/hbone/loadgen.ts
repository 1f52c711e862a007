/**
 * The load generator (a child process): runs one test at a time on the runner's command and answers
 * with its result, so it never shares an event loop with the proxies or the server it measures.
 */
import { runLoadTest } from './load-tests.js';
import type { RunMessage, TestResult } from './protocol.js';
import { onStop } from './child.js';

process.on('message', (m: RunMessage) => {
  if (m.type !== 'run') return;
  runLoadTest(m.test).then(
    (result) => process.send?.({ type: 'result', id: m.id, result }),
    (err: unknown) => {
      const failed: TestResult = {
        kind: m.test.kind,
        count: 0,
        errors: 1,
        firstError: err instanceof Error ? err.message : String(err),
        elapsedMs: 0,
        perSec: 0,
      };
      process.send?.({ type: 'result', id: m.id, result: failed });
    },
  );
});
onStop(() => {});
process.send?.({ type: 'ready', port: 0 });
