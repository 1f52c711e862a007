import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchedDestination } from '../../../src/common/log-batch.js';

function sink(): { writes: string[]; write(s: string): boolean } {
  const writes: string[] = [];
  return { writes, write: (s: string) => (writes.push(s), true) };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await sleep(5);
}

test('a line after a quiet spell is written at once', () => {
  const s = sink();
  const d = new BatchedDestination(s, 60_000);
  d.write('a\n');
  assert.deepEqual(s.writes, ['a\n']);
});

test('lines that come faster than the interval go out together, in order, once it has passed', async () => {
  const s = sink();
  const d = new BatchedDestination(s, 20);
  d.write('1\n');
  d.write('2\n');
  d.write('3\n');
  assert.deepEqual(s.writes, ['1\n'], 'the burst waits');
  await until(() => s.writes.length === 2);
  assert.deepEqual(s.writes, ['1\n', '2\n3\n']);
});

test('16 KiB held are written without waiting; flush() writes what is held', () => {
  const s = sink();
  const d = new BatchedDestination(s, 60_000);
  d.write('first\n');
  const line = `${'x'.repeat(1023)}\n`;
  for (let i = 0; i < 16; i++) d.write(line);
  assert.equal(s.writes.length, 2);
  assert.equal(s.writes[1], line.repeat(16));
  d.write('last\n');
  d.flush();
  assert.deepEqual(s.writes.slice(2), ['last\n']);
  d.flush();
  assert.equal(s.writes.length, 3, 'nothing held: no write');
});
