import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressRecords,
  encodeResponse,
  truncateForUdp,
  udpLimit,
} from '../../../../src/ztunnel/dns/dns-answer.js';
import { parseQuery, Rcode } from '../../../../src/ztunnel/dns/dns-wire.js';
import { buildQuery, decodeResponse } from './dns-query.js';

function query(name: string, opts: Parameters<typeof buildQuery>[1] = {}) {
  const r = parseQuery(buildQuery(name, opts));
  assert.ok(r.ok);
  return r.query;
}

test('an A answer round-trips: id, flags, question echoed with its case, records with the TTL', () => {
  const q = query('Echo.default.svc.cluster.local', { id: 4242 });
  const out = encodeResponse({
    ...q,
    rcode: Rcode.NOERROR,
    authoritative: true,
    answers: addressRecords(1, ['10.96.0.1', 'fd00::1', '10.96.0.2'], 30),
  });
  const d = decodeResponse(out);
  assert.equal(d.id, 4242);
  assert.equal(d.flags & 0x8000, 0x8000, 'QR');
  assert.equal(d.flags & 0x0100, 0x0100, 'RD echoed');
  assert.ok(d.aa);
  assert.deepEqual(d.answers, [
    { type: 1, ttl: 30, data: '10.96.0.1' },
    { type: 1, ttl: 30, data: '10.96.0.2' },
  ]);
  assert.ok(out.includes(Buffer.from('Echo')), 'the question keeps the case it was asked with');
  const again = parseQuery(
    Buffer.from(out.subarray(0, 12 + 32 + 4))
      .fill(0, 2, 4)
      .fill(0, 6, 8),
  );
  assert.ok(again.ok);
  assert.equal(again.query.question.name, 'echo.default.svc.cluster.local');
});

test('AAAA gets only IPv6 records; a family with none gives an empty NOERROR', () => {
  assert.deepEqual(
    addressRecords(28, ['10.0.0.1', 'fd00::2'], 5).map((r) => r.rdata.length),
    [16],
  );
  assert.deepEqual(addressRecords(28, ['10.0.0.1'], 5), []);
  assert.deepEqual(addressRecords(16, ['10.0.0.1'], 5), [], 'TXT: no address records');
});

test('past 512 bytes without EDNS the answer is cut to whole records and TC is set; EDNS raises the limit', () => {
  const ips = Array.from({ length: 60 }, (_, i) => `10.1.0.${i}`);
  const q = query('big.default.svc.cluster.local');
  const small = encodeResponse({
    ...q,
    rcode: 0,
    answers: addressRecords(1, ips, 30),
    maxSize: udpLimit(q.edns),
  });
  assert.ok(small.length <= 512);
  const d = decodeResponse(small);
  assert.ok(d.tc);
  assert.ok(d.answers.length > 20 && d.answers.length < 60);
  const qe = query('big.default.svc.cluster.local', { edns: 4096 });
  const big = encodeResponse({
    ...qe,
    rcode: 0,
    answers: addressRecords(1, ips, 30),
    maxSize: udpLimit(qe.edns),
  });
  const de = decodeResponse(big);
  assert.equal(de.tc, false);
  assert.equal(de.answers.length, 60);
  assert.equal(de.arcount, 1, 'an OPT record answers an EDNS query');
  assert.equal(udpLimit({ udpSize: 100, version: 0, dnssecOk: false }), 512, 'never below 512');
  assert.equal(udpLimit({ udpSize: 65000, version: 0, dnssecOk: false }), 4096);
});

test('BADVERS puts the upper rcode bits in the OPT record', () => {
  const q = query('a', { edns: 1232, ednsVersion: 1 });
  const out = encodeResponse({ ...q, rcode: Rcode.BADVERS });
  assert.equal(out.readUInt16BE(2) & 0xf, 0);
  assert.equal(out[out.length - 6], 1, 'extended rcode 1 (16 >> 4)');
});

test('a relayed response too big for the client is cut to header and question with TC', () => {
  const q = query('x.example');
  const full = encodeResponse({
    ...q,
    rcode: 0,
    answers: addressRecords(
      1,
      Array.from({ length: 40 }, (_, i) => `192.0.2.${i}`),
      60,
    ),
  });
  assert.ok(full.length > 512);
  const cut = truncateForUdp(full, 512);
  const d = decodeResponse(cut);
  assert.ok(d.tc);
  assert.equal(d.qdcount, 1);
  assert.equal(d.answers.length, 0);
  assert.equal(truncateForUdp(full, 4096), full);
});
