import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { propagateTrace, requestId } from '../../../../src/l7/http/trace.js';

const never = (): number => 0.999;
const always = (): number => 0;

test('no context: a trace is started, sampled by the percentage, in B3 and W3C alike', () => {
  const h: IncomingHttpHeaders = {};
  const c = propagateTrace(h, 1, always);
  assert.deepEqual([c.started, c.sampled], [true, true]);
  assert.equal(h.traceparent, `00-${c.traceId}-${c.spanId}-01`);
  assert.deepEqual([h['x-b3-traceid'], h['x-b3-spanid'], h['x-b3-sampled']], [c.traceId, c.spanId, '1']);
  assert.equal(h['x-b3-parentspanid'], undefined);
  assert.equal(String(h['x-request-id'])[14], 'a');
  const u: IncomingHttpHeaders = {};
  assert.equal(propagateTrace(u, 1, never).sampled, false);
  assert.equal(String(u['x-request-id'])[14], '4');
});

test('the single b3 header is continued and rewritten; a debug flag samples', () => {
  const h: IncomingHttpHeaders = { b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d' };
  const c = propagateTrace(h, 0, never);
  assert.deepEqual(
    [c.traceId, c.parentSpanId, c.sampled],
    ['80f198ee56343ba864fe8b2a57d3eff7', 'e457b5a2e4d86bd1', true],
  );
  assert.equal(h.b3, `80f198ee56343ba864fe8b2a57d3eff7-${c.spanId}-1-e457b5a2e4d86bd1`);
});

test('B3 wins over W3C; malformed contexts are ignored and a new trace starts', () => {
  const both: IncomingHttpHeaders = {
    'x-b3-traceid': 'a'.repeat(32),
    'x-b3-spanid': 'b'.repeat(16),
    'x-b3-sampled': '1',
    traceparent: `00-${'c'.repeat(32)}-${'d'.repeat(16)}-00`,
  };
  assert.equal(propagateTrace(both, 0, never).traceId, 'a'.repeat(32));
  for (const traceparent of [
    `00-${'0'.repeat(32)}-${'d'.repeat(16)}-01`,
    `ff-${'c'.repeat(32)}-${'d'.repeat(16)}-01`,
    `00-${'c'.repeat(31)}-${'d'.repeat(16)}-01`,
    'garbage',
  ]) {
    const c = propagateTrace({ traceparent }, 0, never);
    assert.equal(c.started, true, traceparent);
  }
  // A present x-request-id is kept.
  const h: IncomingHttpHeaders = { 'x-request-id': 'mine' };
  propagateTrace(h, 100, always);
  assert.equal(h['x-request-id'], 'mine');
  assert.match(requestId(false), /^[0-9a-f-]{14}4/);
});
