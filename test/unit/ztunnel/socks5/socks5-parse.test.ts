import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeReply, parseGreeting, parseRequest } from '../../../../src/ztunnel/socks5/socks5-parse.js';

const b = (...x: number[]): Buffer => Buffer.from(x);

function domainRequest(name: string | Buffer, port = 80): Buffer {
  const n = typeof name === 'string' ? Buffer.from(name, 'latin1') : name;
  return Buffer.concat([b(5, 1, 0, 3, n.length), n, b(port >> 8, port & 0xff)]);
}

test('a greeting is complete only once all its methods are in; NO AUTH anywhere in the list is chosen', () => {
  const g = b(5, 3, 2, 1, 0);
  for (let i = 0; i < g.length; i++)
    assert.equal(parseGreeting(g.subarray(0, i)).kind, 'need', `prefix ${i}`);
  assert.deepEqual(parseGreeting(g), { kind: 'ok', consumed: 5 });
  assert.deepEqual(
    parseGreeting(Buffer.concat([g, b(5, 1)])),
    { kind: 'ok', consumed: 5 },
    'extra bytes stay',
  );
});

test('a greeting without NO AUTH, with zero methods, or of another version is refused', () => {
  const noAuth = parseGreeting(b(5, 1, 2));
  assert.equal(noAuth.kind === 'error' && noAuth.reason, 'no_acceptable_method');
  const none = parseGreeting(b(5, 0));
  assert.equal(none.kind === 'error' && none.reason, 'no_acceptable_method');
  const v4 = parseGreeting(b(4, 1, 0, 80, 127, 0, 0, 1, 0));
  assert.equal(v4.kind === 'error' && v4.reason, 'bad_version');
  const http = parseGreeting(Buffer.from('GET / HTTP/1.1\r\n'));
  assert.equal(http.kind === 'error' && http.reason, 'bad_version');
});

test('CONNECT requests for IPv4, IPv6 and a domain parse byte by byte', () => {
  const cases: Array<[Buffer, { ip?: string; hostname?: string; port: number }]> = [
    [b(5, 1, 0, 1, 10, 0, 0, 7, 0x1f, 0x90), { ip: '10.0.0.7', port: 8080 }],
    [b(5, 1, 0, 4, 0xfd, 0, ...Array<number>(13).fill(0), 1, 0, 80), { ip: 'fd00::1', port: 80 }],
    [domainRequest('Echo.Default.', 443), { hostname: 'Echo.Default', port: 443 }],
  ];
  for (const [req, want] of cases) {
    for (let i = 0; i < req.length; i++) assert.equal(parseRequest(req.subarray(0, i)).kind, 'need');
    const r = parseRequest(Buffer.concat([req, b(1, 2, 3)]));
    assert.equal(r.kind, 'ok');
    if (r.kind !== 'ok') return;
    assert.equal(r.consumed, req.length);
    assert.equal(r.port, want.port);
    assert.equal(r.ip, want.ip);
    assert.equal(r.hostname, want.hostname);
  }
});

test('BIND and UDP ASSOCIATE get "command not supported"; an unknown address type gets 0x08', () => {
  for (const cmd of [2, 3]) {
    const r = parseRequest(b(5, cmd, 0, 1, 1, 2, 3, 4, 0, 80));
    assert.equal(r.kind === 'error' && r.reply, 7);
    assert.equal(r.kind === 'error' && r.reason, 'unsupported_command');
  }
  const r = parseRequest(b(5, 1, 0, 9, 1, 2, 3, 4, 0, 80));
  assert.equal(r.kind === 'error' && r.reply, 8);
});

test('empty, oversized and non-hostname domains and port 0 are refused with a general failure', () => {
  const bad = [
    domainRequest(''),
    domainRequest('a'.repeat(254)),
    domainRequest('evil\0host'),
    domainRequest('has space.com'),
    domainRequest('..'),
    domainRequest(Buffer.from([0xc3, 0xa9])),
  ];
  for (const req of bad) {
    const r = parseRequest(req);
    assert.equal(r.kind === 'error' && r.reason, 'bad_domain', req.toString('latin1'));
    assert.equal(r.kind === 'error' && r.reply, 1);
  }
  assert.equal(parseRequest(domainRequest('a'.repeat(63) + '.b')).kind, 'ok');
  const p0 = parseRequest(b(5, 1, 0, 1, 1, 2, 3, 4, 0, 0));
  assert.equal(p0.kind === 'error' && p0.reason, 'bad_port');
});

test('replies carry the code and a zero IPv4 bound address', () => {
  assert.deepEqual([...encodeReply(4)], [5, 4, 0, 1, 0, 0, 0, 0, 0, 0]);
});
