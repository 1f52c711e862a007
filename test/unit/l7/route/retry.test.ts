import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shouldRetry, backoffMs } from '../../../../src/l7/route/retry.js';
import { DEFAULT_RETRY } from '../../../../src/l7/route/decide.js';

test("Istio's default policy retries connect failures and refused streams, not a 503 response", () => {
  assert.ok(shouldRetry(DEFAULT_RETRY, { failure: 'connect' }));
  assert.ok(shouldRetry(DEFAULT_RETRY, { failure: 'refused' }));
  assert.ok(shouldRetry(DEFAULT_RETRY, { status: 200, grpcStatus: '14' }), 'gRPC unavailable');
  assert.ok(!shouldRetry(DEFAULT_RETRY, { status: 503 }));
  assert.ok(!shouldRetry(DEFAULT_RETRY, { failure: 'reset' }));
});

test('5xx, gateway-error, retriable-status-codes and bare codes', () => {
  assert.ok(shouldRetry({ attempts: 3, retryOn: ['5xx'] }, { status: 500 }));
  assert.ok(shouldRetry({ attempts: 3, retryOn: ['5xx'] }, { failure: 'reset' }));
  assert.ok(!shouldRetry({ attempts: 3, retryOn: ['gateway-error'] }, { status: 500 }));
  assert.ok(shouldRetry({ attempts: 3, retryOn: ['gateway-error'] }, { status: 503 }));
  assert.ok(shouldRetry({ attempts: 3, retryOn: ['retriable-status-codes'], codes: [418] }, { status: 418 }));
  assert.ok(shouldRetry({ attempts: 3, retryOn: ['429'] }, { status: 429 }));
});

test('backoff stays within base·2^(n-1), capped at 10× base', () => {
  assert.equal(
    backoffMs(DEFAULT_RETRY, 1, () => 0.999),
    24,
  );
  assert.equal(
    backoffMs(DEFAULT_RETRY, 10, () => 0.999),
    249,
  );
});
