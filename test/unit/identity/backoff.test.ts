import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BACKOFF, backoffDelay } from '../../../src/identity/backoff.js';

test('backoff starts at 500 ms, doubles, and is capped at 150 s', () => {
  const mid = () => 0.5; // no jitter
  assert.deepEqual(
    [1, 2, 3, 4].map((a) => backoffDelay(a, DEFAULT_BACKOFF, mid)),
    [500, 1000, 2000, 4000],
  );
  assert.equal(backoffDelay(9, DEFAULT_BACKOFF, mid), 128_000);
  assert.equal(backoffDelay(10, DEFAULT_BACKOFF, mid), 150_000);
  assert.equal(
    backoffDelay(1000, DEFAULT_BACKOFF, () => 0.999),
    150_000,
    'jitter never passes the cap',
  );
});

test('jitter spreads retries by ±20 %', () => {
  assert.equal(
    backoffDelay(2, DEFAULT_BACKOFF, () => 0),
    800,
  );
  assert.equal(
    backoffDelay(2, DEFAULT_BACKOFF, () => 0.99999),
    1200,
  );
});
