import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chooseFraming,
  chunkHeader,
  RequestHeadError,
  serializeRequestHead,
} from '../../../../src/l7/http1/request-head.js';

test('request line, host from the authority, headers in order, lists as repeated fields', () => {
  const head = serializeRequestHead(
    'GET',
    '/reviews/1?x=y',
    'reviews:9080',
    { 'x-request-id': 'abc', accept: ['a/b', 'c/d'], 'x-n': 5 },
    { kind: 'none' },
    false,
  );
  assert.equal(
    head,
    'GET /reviews/1?x=y HTTP/1.1\r\nhost: reviews:9080\r\nx-request-id: abc\r\naccept: a/b\r\naccept: c/d\r\nx-n: 5\r\n\r\n',
  );
});

test("framing and connection headers are the client's own, never the caller's", () => {
  const head = serializeRequestHead(
    'POST',
    '/',
    'a',
    {
      host: 'evil',
      'content-length': '999',
      'transfer-encoding': 'gzip',
      connection: 'upgrade',
      'Keep-Alive': 'x',
    },
    { kind: 'chunked' },
    true,
  );
  assert.equal(head, 'POST / HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n');
  assert.match(
    serializeRequestHead('PUT', '/', 'a', {}, { kind: 'length', length: 12 }, false),
    /content-length: 12\r\n/,
  );
});

test('values that would split the request, bad names, methods and targets are refused', () => {
  const bad: [string, string, string, Record<string, string>][] = [
    ['GET', '/', 'a', { 'x-a': 'v\r\nx-injected: 1' }],
    ['GET', '/', 'a', { 'x-a': 'v\nx' }],
    ['GET', '/', 'a', { 'x a': 'v' }],
    ['G ET', '/', 'a', {}],
    ['GET', '/a b', 'a', {}],
    ['GET', '', 'a', {}],
    ['GET', '/', 'a\r\nb', {}],
  ];
  for (const [m, p, a, h] of bad)
    assert.throws(
      () => serializeRequestHead(m, p, a, h, { kind: 'none' }, false),
      RequestHeadError,
      JSON.stringify([m, p, a, h]),
    );
});

test('framing: whole body by its length, streamed by the declared length or chunked, none kept as sent', () => {
  assert.deepEqual(chooseFraming({}, false, Buffer.from('abc')), { kind: 'length', length: 3 });
  assert.deepEqual(chooseFraming({ 'content-length': '10' }, false, Buffer.from('abc')), {
    kind: 'length',
    length: 3,
  });
  assert.deepEqual(chooseFraming({ 'content-length': '10' }, true, undefined), {
    kind: 'length',
    length: 10,
  });
  assert.deepEqual(chooseFraming({}, true, undefined), { kind: 'chunked' });
  assert.deepEqual(chooseFraming({}, false, undefined), { kind: 'none' });
  assert.deepEqual(chooseFraming({ 'content-length': '0' }, false, undefined), { kind: 'length', length: 0 });
  assert.ok(chooseFraming({ 'content-length': '1x' }, true, undefined) instanceof RequestHeadError);
  assert.ok(chooseFraming({ 'content-length': '5' }, false, undefined) instanceof RequestHeadError);
  assert.equal(chunkHeader(255), 'ff\r\n');
});
