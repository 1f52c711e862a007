/**
 * The load generator (a child process): runs one test at a time on the runner's command and answers
 * with its result, so it never shares an event loop with the proxies or the server it measures.
 */
import { onStop } from '../hbone/child.js';
import { runZtLoadTest } from './load-tests.js';
import type { ZtRunMessage, ZtTestResult } from './protocol.js';

process.on('message', (m: ZtRunMessage) => {
  if (m.type !== 'run') return;
  runZtLoadTest(m.test).then(
    (result) => process.send?.({ type: 'result', id: m.id, result }),
    (err: unknown) => {
      const failed: ZtTestResult = {
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
