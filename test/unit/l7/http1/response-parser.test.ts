import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import {
  ResponseParser,
  type ResponseHead,
  type ResponseParseError,
} from '../../../../src/l7/http1/response-parser.js';

interface Seen {
  heads: ResponseHead[];
  body: string;
  trailers?: IncomingHttpHeaders;
  ends: number;
  error?: ResponseParseError;
}

/** Feeds `input` to a parser expecting the response to `method`, in pieces of `step` bytes. */
function parse(
  input: string | Buffer,
  method = 'GET',
  step = Infinity,
  eof = false,
): Seen & { p: ResponseParser } {
  const seen: Seen = { heads: [], body: '', ends: 0 };
  const p = new ResponseParser(
    {
      onHead: (h) => seen.heads.push(h),
      onBody: (c) => (seen.body += c.toString('latin1')),
      onTrailers: (t) => (seen.trailers = t),
      onEnd: () => seen.ends++,
    },
    1024,
  );
  p.expect(method);
  const buf = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const n = Math.min(step, buf.length) || 1;
  for (let i = 0; i < buf.length && !seen.error; i += n) seen.error = p.execute(buf.subarray(i, i + n));
  if (eof && !seen.error) seen.error = p.finish();
  return { ...seen, p };
}

/** Every way of cutting the input into pieces gives the same result (1-byte pieces, 3, 7, whole). */
function everySplit(input: string, method = 'GET', eof = false): Seen {
  const whole = parse(input, method, Infinity, eof);
  for (const step of [1, 3, 7]) {
    const s = parse(input, method, step, eof);
    assert.deepEqual(
      { heads: s.heads, body: s.body, trailers: s.trailers, ends: s.ends, error: s.error?.code },
      {
        heads: whole.heads,
        body: whole.body,
        trailers: whole.trailers,
        ends: whole.ends,
        error: whole.error?.code,
      },
      `split every ${step} bytes`,
    );
  }
  return whole;
}

test('a Content-Length response: status, lower-cased headers, body, keep-alive', () => {
  const s = everySplit('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Served-By: v1\r\n\r\nhello');
  assert.equal(s.error, undefined);
  assert.equal(s.heads.length, 1);
  assert.equal(s.heads[0]!.status, 200);
  assert.equal(s.heads[0]!.headers['x-served-by'], 'v1');
  assert.equal(s.heads[0]!.keepAlive, true);
  assert.equal(s.body, 'hello');
  assert.equal(s.ends, 1);
});

test('chunked body with extensions and trailers; the connection stays reusable', () => {
  const s = everySplit(
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=x\r\nhello\r\n6\r\n world\r\n0\r\ngrpc-status: 0\r\nX-T: a\r\n\r\n',
  );
  assert.equal(s.error, undefined);
  assert.equal(s.body, 'hello world');
  assert.deepEqual(s.trailers, { 'grpc-status': '0', 'x-t': 'a' });
  assert.equal(s.ends, 1);
  assert.ok(parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n').p.reusable);
});

test('no body for HEAD, 204 and 304 whatever the headers say; 1xx interim responses are skipped', () => {
  const head = everySplit('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'HEAD');
  assert.equal(head.ends, 1);
  assert.equal(head.body, '');
  assert.equal(everySplit('HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n').ends, 1);
  assert.equal(everySplit('HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n').ends, 1);
  const c = everySplit(
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok',
  );
  assert.equal(c.error, undefined);
  assert.deepEqual(
    c.heads.map((h) => h.status),
    [201],
  );
  assert.equal(c.body, 'ok');
});

test('a body without length runs to the close, and the connection is not reused', () => {
  const s = parse('HTTP/1.1 200 OK\r\n\r\nall of it', 'GET', Infinity, true);
  assert.equal(s.error, undefined);
  assert.equal(s.heads[0]!.keepAlive, false);
  assert.equal(s.body, 'all of it');
  assert.equal(s.ends, 1);
  assert.equal(s.p.reusable, false);
  // A transfer coding other than chunked last: read to the close too (RFC 9112 §6.3).
  assert.equal(
    parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz', 'GET', Infinity, true).body,
    'zz',
  );
});

test('keep-alive by version and Connection; set-cookie is a list, other repeats are joined', () => {
  assert.equal(
    parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').heads[0]!.keepAlive,
    false,
  );
  assert.equal(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').heads[0]!.keepAlive, false);
  assert.equal(
    parse('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n').heads[0]!.keepAlive,
    true,
  );
  const h = parse(
    'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nVary: x\r\nVary: y\r\nContent-Length: 0\r\n\r\n',
  ).heads[0]!.headers;
  assert.deepEqual(h['set-cookie'], ['a=1', 'b=2']);
  assert.equal(h.vary, 'x, y');
});

test('malformed responses are refused with a code naming the problem', () => {
  const cases: [string, string][] = [
    ['HTTP/2 200 OK\r\n\r\n', 'bad_status_line'],
    ['HTTP/1.1 20 OK\r\n\r\n', 'bad_status_line'],
    ['HTTP/1.1 2000 OK\r\n\r\n', 'bad_status_line'],
    ['ICY 200 OK\r\n\r\n', 'bad_status_line'],
    ['HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', 'bad_status_line'],
    ['HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n', 'bad_header'],
    ['HTTP/1.1 200 OK\r\nX-A : x\r\n\r\n', 'bad_header'],
    ['HTTP/1.1 200 OK\r\nNoColon\r\n\r\n', 'bad_header'],
    ['HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\n\r\n', 'bad_header'],
    ['HTTP/1.1 200 OK\r\nX-A: a\nb\r\n\r\n', 'bad_header'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello', 'bad_content_length'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello', 'bad_content_length'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello', 'bad_content_length'],
    ['HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'bad_content_length'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n', 'bad_content_length'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', 'bad_transfer_encoding'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n', 'bad_chunk'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n', 'bad_chunk'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n', 'bad_chunk'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n', 'bad_chunk'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n', 'bad_chunk'],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n', 'bad_chunk'],
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA', 'unexpected_data'],
  ];
  for (const [input, code] of cases) {
    for (const step of [Infinity, 1]) {
      const s = parse(input, 'GET', step);
      assert.equal(s.error?.code, code, `${JSON.stringify(input)} in pieces of ${step}`);
      assert.match(s.error!.message, /^upstream sent a malformed HTTP\/1\.1 response: /);
    }
  }
});

test('oversized heads and trailers are refused (limit 1024 bytes here)', () => {
  const big = `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(2000)}\r\nContent-Length: 0\r\n\r\n`;
  assert.equal(parse(big).error?.code, 'headers_too_large');
  assert.equal(parse(big, 'GET', 100).error?.code, 'headers_too_large');
  // Without an end in sight either: refused once the limit passes, not buffered forever.
  assert.equal(
    parse(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(5000)}`, 'GET', 64).error?.code,
    'headers_too_large',
  );
  const trailers = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: ${'t'.repeat(2000)}\r\n\r\n`;
  assert.equal(parse(trailers, 'GET', 50).error?.code, 'headers_too_large');
});

test('a close in the middle is an error naming where; after an error the parser takes nothing more', () => {
  assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Le', 'GET', Infinity, true).error?.code, 'incomplete');
  const cut = parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', 'GET', Infinity, true);
  assert.equal(cut.error?.code, 'incomplete');
  assert.match(cut.error!.detail, /before the whole Content-Length body was read/);
  const chunk = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab', 'GET', Infinity, true);
  assert.match(chunk.error!.detail, /inside a chunked body/);
  const bad = parse('nonsense\r\n\r\n');
  assert.equal(bad.p.execute(Buffer.from('HTTP/1.1 200 OK\r\n\r\n'))?.code, 'unexpected_data');
});

test('received tells whether any byte of the response came (a stale connection has none)', () => {
  const idle = parse('', 'GET', Infinity);
  assert.equal(idle.p.received, false);
  assert.equal(idle.p.finish()?.code, 'incomplete');
  assert.equal(parse('H').p.received, true);
});

test('responses follow each other on one connection after expect()', () => {
  const s = parse('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na');
  s.p.expect('GET');
  assert.equal(s.p.execute(Buffer.from('HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nb')), undefined);
  assert.equal(s.p.reusable, true);
});
