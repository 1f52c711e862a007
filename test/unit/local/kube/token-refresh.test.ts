import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RETRY_MS,
  TokenRefresher,
  refreshAfterMs,
  writeTokenFile,
  type ProjectedToken,
} from '../../../../src/local/kube/token-refresh.js';

/** A clock and timers the test moves by hand. */
function fakeTime() {
  let now = 1_000_000;
  const timers = new Set<{ at: number; fn: () => unknown }>();
  return {
    now: () => now,
    setTimer: (fn: () => unknown, ms: number) => {
      const t = { at: now + ms, fn };
      timers.add(t);
      return t;
    },
    clearTimer: (t: unknown) => void timers.delete(t as { at: number; fn: () => unknown }),
    pending: () => [...timers].map((t) => t.at - now).sort((a, b) => a - b),
    /** Moves the clock, firing what falls due, and waits for what they started. */
    async advance(ms: number) {
      now += ms;
      const due = [...timers].filter((x) => x.at <= now);
      for (const t of due) timers.delete(t);
      await Promise.all(due.map((t) => t.fn()));
    },
  };
}

test('a projected token is replaced at 80 % of its lifetime, at least daily', () => {
  assert.equal(refreshAfterMs(43_200), 34_560_000, '12 h (istio-token): after 9.6 h');
  assert.equal(refreshAfterMs(600), 480_000);
  assert.equal(refreshAfterMs(7 * 24 * 3600), 24 * 3600 * 1000, 'a week-long token: after a day');
});

test('the refresher writes a new token at 80 %, then again 80 % into the new one; stop ends it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'token-refresh-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'istio-token');
  await writeTokenFile(file, 'token-0');
  const clock = fakeTime();
  const asked: Array<string | undefined> = [];
  const tok: ProjectedToken = { file, audience: 'istio-ca', seconds: 600, issuedAtMs: clock.now() };
  const r = new TokenRefresher([tok], {
    fetch: async (x) => {
      asked.push(x.audience);
      return `token-${asked.length}`;
    },
    log: () => assert.fail('nothing to log'),
    ...clock,
  });
  r.start();
  assert.deepEqual(clock.pending(), [480_000]);
  await clock.advance(479_999);
  assert.equal(await readFile(file, 'utf8'), 'token-0', 'not before 80 %');
  await clock.advance(1);
  assert.equal(await readFile(file, 'utf8'), 'token-1');
  assert.deepEqual(asked, ['istio-ca'], 'for the same audience');
  assert.deepEqual(clock.pending(), [480_000], 'the next one 80 % into the new token');
  await clock.advance(480_000);
  assert.equal(await readFile(file, 'utf8'), 'token-2');
  assert.deepEqual(await readdir(dir), ['istio-token'], 'replaced by rename: no temporary file left');
  r.stop();
  assert.deepEqual(clock.pending(), []);
  await clock.advance(10 * 480_000);
  assert.equal(await readFile(file, 'utf8'), 'token-2', 'nothing after stop');
});

test('a refused refresh keeps the current token, says why and is retried', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'token-refresh-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'istio-token');
  await writeTokenFile(file, 'token-0');
  const clock = fakeTime();
  const logs: string[] = [];
  let fail = true;
  const r = new TokenRefresher([{ file, audience: 'istio-ca', seconds: 600, issuedAtMs: clock.now() }], {
    fetch: async () => {
      if (fail) throw new Error('HTTP 503 from the API server');
      return 'token-1';
    },
    log: (l) => logs.push(l),
    ...clock,
  });
  r.start();
  await clock.advance(480_000);
  assert.equal(await readFile(file, 'utf8'), 'token-0');
  assert.equal(logs.length, 1);
  assert.match(logs[0]!, /istio-token: refresh failed \(HTTP 503 from the API server\); retrying in 10 s/);
  assert.deepEqual(clock.pending(), [RETRY_MS]);
  fail = false;
  await clock.advance(RETRY_MS);
  assert.equal(await readFile(file, 'utf8'), 'token-1');
  assert.deepEqual(clock.pending(), [480_000]);
  r.stop();
});
