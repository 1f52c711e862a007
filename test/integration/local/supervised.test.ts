/**
 * Supervised: a real child process that exits is started again (counted), one that is stopped is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Proc, Supervised } from '../../../src/local/cluster/proc.js';

const SCRIPT = `console.log(JSON.stringify({ msg: 'up', pid: process.pid })); setInterval(() => {}, 1000);`;

test('an exited process is restarted after the backoff; stop() ends it for good', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ml-sup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const reports: string[] = [];
  const restarted: Proc[] = [];
  const s = new Supervised('worker', {
    spawn: () => new Proc('worker', process.execPath, ['-e', SCRIPT], join(dir, 'worker.log')),
    afterRestart: async (p) => {
      await p.waitFor((l) => l.msg === 'up', 'start');
      restarted.push(p);
    },
    report: (m) => reports.push(m),
  });
  await s.proc.waitFor((l) => l.msg === 'up', 'start');
  const first = s.pid!;
  process.kill(first, 'SIGKILL');
  const end = Date.now() + 10_000;
  while (restarted.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  assert.equal(s.restarts, 1);
  assert.ok(s.pid && s.pid !== first, 'a new process runs');
  assert.match(reports[0]!, /worker exited \(SIGKILL\); restarting in 1 s/);
  assert.match(reports[1]!, /worker restarted \(pid \d+, restart 1\)/);
  await s.stop();
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(s.pid, undefined, 'stopped for good');
  assert.equal(s.restarts, 1);
});
