import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuery, readName, Rcode } from '../../../../src/ztunnel/dns/dns-wire.js';
import { buildQuery, encodeName } from './dns-query.js';

test('a query is read: id, RD, the question (lowercased name, labels as sent), EDNS0', () => {
  const r = parseQuery(buildQuery('Echo.Default.SVC.cluster.local.', { id: 77, type: 28, edns: 1400 }));
  assert.ok(r.ok, !r.ok ? r.error : '');
  assert.equal(r.query.header.id, 77);
  assert.equal(r.query.header.rd, true);
  assert.equal(r.query.question.name, 'echo.default.svc.cluster.local');
  assert.equal(r.query.question.labels[0]!.toString(), 'Echo');
  assert.equal(r.query.question.type, 28);
  assert.deepEqual(r.query.edns, { udpSize: 1400, version: 0, dnssecOk: false });
});

test('names with compression pointers are followed; the root name is empty', () => {
  // "www" + pointer to "example.com" written earlier in the packet.
  const pkt = Buffer.concat([
    Buffer.alloc(12),
    encodeName('example.com'),
    Buffer.from([3, 0x77, 0x77, 0x77, 0xc0, 12]),
  ]);
  const n = readName(pkt, 12 + 13);
  assert.ok(n.ok);
  assert.deepEqual(
    n.value.map((l) => l.toString()),
    ['www', 'example', 'com'],
  );
  assert.equal(n.end, pkt.length, 'the name ends after the pointer, not where it points');
  const root = parseQuery(buildQuery('', { type: 2 }));
  assert.ok(root.ok);
  assert.equal(root.query.question.name, '');
});

test('pointer loops and forward pointers are FORMERR, not a hang', () => {
  const cases = [
    Buffer.from([0xc0, 12]), // points at itself
    Buffer.from([1, 0x61, 0xc0, 12]), // "a" then back to its own start
    Buffer.from([0xc0, 14, 1, 0x61, 0xc0, 12]), // forward, then back: a two-step loop
  ];
  for (const name of cases) {
    const pkt = buildQuery('x');
    const bad = Buffer.concat([pkt.subarray(0, 12), name, Buffer.from([0, 1, 0, 1])]);
    const r = parseQuery(bad);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.rcode, Rcode.FORMERR);
    assert.match(!r.ok ? r.error : '', /backwards|loop/);
  }
});

test('every truncation of a valid query is FORMERR (or dropped when the header is cut)', () => {
  const pkt = buildQuery('echo.default.svc.cluster.local', { edns: 4096 });
  for (let i = 0; i < pkt.length; i++) {
    const r = parseQuery(pkt.subarray(0, i));
    assert.equal(r.ok, false, `prefix ${i}`);
    if (!r.ok) assert.equal(r.rcode, i < 12 ? undefined : Rcode.FORMERR, `prefix ${i}: ${r.error}`);
  }
});

test('oversized queries, long names, several questions, bad label types and responses are refused', () => {
  const huge = Buffer.concat([buildQuery('a'), Buffer.alloc(5000)]);
  const r1 = parseQuery(huge);
  assert.equal(!r1.ok && r1.rcode, Rcode.FORMERR);
  assert.match(!r1.ok ? r1.error : '', /4096-byte limit/);
  const long = parseQuery(buildQuery(Array(5).fill('x'.repeat(60)).join('.')));
  assert.equal(!long.ok && long.rcode, Rcode.FORMERR);
  const two = parseQuery(buildQuery('a', { qdcount: 2 }));
  assert.equal(!two.ok && two.rcode, Rcode.FORMERR);
  const zero = parseQuery(buildQuery('a', { qdcount: 0 }));
  assert.equal(!zero.ok && zero.rcode, Rcode.FORMERR);
  const labelType = buildQuery('a');
  labelType[12] = 0x41; // 01xxxxxx: the extended label type
  assert.equal(((r) => !r.ok && r.rcode)(parseQuery(labelType)), Rcode.FORMERR);
  const notify = parseQuery(buildQuery('a', { flags: 4 << 11 }));
  assert.equal(!notify.ok && notify.rcode, Rcode.NOTIMP);
  const response = parseQuery(buildQuery('a', { flags: 0x8000 }));
  assert.equal(!response.ok && response.rcode, undefined, 'responses are dropped, never answered');
});

test('a second OPT record is FORMERR; other additional records are skipped', () => {
  const q = buildQuery('a', { edns: 1232 });
  q.writeUInt16BE(2, 10);
  const twice = Buffer.concat([q, q.subarray(q.length - 11)]);
  assert.equal(((r) => !r.ok && r.rcode)(parseQuery(twice)), Rcode.FORMERR);
  const other = Buffer.from(buildQuery('a'));
  other.writeUInt16BE(1, 10);
  const rr = Buffer.from([0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, 0x61]); // root TXT "a"
  const r = parseQuery(Buffer.concat([other, rr]));
  assert.ok(r.ok);
  assert.equal(r.query.edns, undefined);
});

test('odd bytes in labels are escaped, so such a name never equals a mesh name', () => {
  const pkt = buildQuery('x');
  const name = Buffer.from([3, 0x61, 0x2e, 0x62, 1, 0x00, 0]); // "a.b" as ONE label, then "\0"
  const r = parseQuery(Buffer.concat([pkt.subarray(0, 12), name, Buffer.from([0, 1, 0, 1])]));
  assert.ok(r.ok);
  assert.equal(r.query.question.name, 'a\\.b.\\000');
});
