import { test } from 'node:test';
import assert from 'node:assert/strict';
import { http1ClientKind } from '../../../../src/l7/cluster/upstream.js';

test("the engine's own HTTP/1.1 client by default; node:http's on request; anything else refused", () => {
  assert.equal(http1ClientKind({}), 'own');
  assert.equal(http1ClientKind({ L7_HTTP1_CLIENT: 'own' }), 'own');
  assert.equal(http1ClientKind({ L7_HTTP1_CLIENT: 'node' }), 'node');
  assert.throws(
    () => http1ClientKind({ L7_HTTP1_CLIENT: 'undici' }),
    /L7_HTTP1_CLIENT must be "own" or "node", not "undici"/,
  );
});
