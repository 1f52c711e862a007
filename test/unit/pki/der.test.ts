import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tag,
  namedBits,
  oid,
  sequence,
  smallInteger,
  time,
  tlv,
  unsignedInteger,
} from '../../../src/pki/der-encode.js';
import {
  DerReader,
  decodeBitString,
  decodeOid,
  decodeSmallInteger,
  decodeTime,
  readRoot,
  valueOf,
} from '../../../src/pki/der-decode.js';

function decodeTimeOf(buf: Buffer): Date {
  return decodeTime(buf, readRoot(buf, 'time'));
}

test('OIDs encode to the known DER bytes and decode back', () => {
  assert.equal(oid('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
  assert.equal(oid('2.5.29.17').toString('hex'), '0603551d11');
  for (const dotted of [
    '1.2.840.113549.1.9.14',
    '1.3.6.1.5.5.7.3.2',
    '2.999.3',
    '0.9.2342.19200300.100.1.1',
  ]) {
    const enc = oid(dotted);
    assert.equal(decodeOid(enc, readRoot(enc, 'oid')), dotted);
  }
  assert.throws(() => oid('1.x.3'), { code: 'PKI_ERR_DER' });
});

test('INTEGERs are minimal and positive', () => {
  assert.equal(unsignedInteger(Buffer.from([0x00, 0x00, 0x7f])).toString('hex'), '02017f');
  assert.equal(unsignedInteger(Buffer.from([0x80])).toString('hex'), '02020080');
  assert.equal(unsignedInteger(Buffer.alloc(3)).toString('hex'), '020100');
  assert.equal(smallInteger(2).toString('hex'), '020102');
  assert.equal(smallInteger(128).toString('hex'), '02020080');
  const enc = smallInteger(65537);
  assert.equal(decodeSmallInteger(enc, readRoot(enc, 'int')), 65537);
});

test('long lengths use the minimal long form and decode back', () => {
  for (const n of [0, 127, 128, 255, 256, 70000]) {
    const enc = tlv(Tag.octetString, Buffer.alloc(n, 7));
    const t = readRoot(enc, 'octets');
    assert.equal(valueOf(enc, t).length, n);
  }
  assert.equal(tlv(Tag.octetString, Buffer.alloc(200)).subarray(0, 3).toString('hex'), '0481c8');
});

test('keyUsage-style named bits drop trailing zero bits', () => {
  // keyCertSign (5) + cRLSign (6): one unused bit, 0x06.
  assert.equal(namedBits([5, 6]).toString('hex'), '03020106');
  // digitalSignature (0) + keyEncipherment (2): five unused bits, 0xa0.
  assert.equal(namedBits([0, 2]).toString('hex'), '030205a0');
  const enc = namedBits([0, 8]);
  const { unused, bytes } = decodeBitString(enc, readRoot(enc, 'bits'));
  assert.equal(unused, 7);
  assert.equal(bytes.toString('hex'), '8080');
});

test('times: UTCTime up to 2049, GeneralizedTime from 2050, both decode exactly', () => {
  const d2049 = new Date('2049-12-31T23:59:59Z');
  const d2050 = new Date('2050-01-01T00:00:00Z');
  const d1999 = new Date('1999-06-01T12:00:00Z');
  assert.equal(time(d2049)[0], Tag.utcTime);
  assert.equal(time(d2049).subarray(2).toString(), '491231235959Z');
  assert.equal(time(d2050)[0], Tag.generalizedTime);
  assert.equal(time(d2050).subarray(2).toString(), '20500101000000Z');
  for (const d of [d2049, d2050, d1999, new Date('9999-12-31T23:59:59Z')]) {
    assert.equal(decodeTimeOf(time(d)).getTime(), d.getTime());
  }
  // Milliseconds are dropped (X.509 times have whole seconds).
  assert.equal(
    decodeTimeOf(time(new Date('2030-01-01T00:00:00.999Z'))).toISOString(),
    '2030-01-01T00:00:00.000Z',
  );
});

test('invalid times are rejected', () => {
  for (const text of ['491231235960Z', '491332000000Z', '4912312359Z', '491231235959+0100']) {
    const enc = tlv(Tag.utcTime, Buffer.from(text));
    assert.throws(() => decodeTimeOf(enc), { code: 'PKI_ERR_DER' }, text);
  }
});

test('the decoder rejects what DER forbids, naming the field and offset', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['indefinite length', '3080020101 0000', /indefinite length/],
    ['non-minimal length', '30810302 0101', /non-minimal length/],
    ['runs past the end', '3005020101', /runs past the end/],
    ['trailing bytes', '3003020101ff', /trailing bytes/],
    ['truncated', '30', /truncated header/],
  ];
  for (const [name, hex, re] of cases) {
    const buf = Buffer.from(hex.replace(/ /g, ''), 'hex');
    assert.throws(
      () => readRoot(buf, 'Thing'),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'PKI_ERR_DER', name);
        assert.match(err.message, re, name);
        assert.match(err.message, /^Thing: .* at byte \d+$/, name);
        return true;
      },
    );
  }
});

test('DerReader walks children, checks tags and reports missing or extra fields', () => {
  const enc = sequence(smallInteger(1), oid('2.5.4.3'));
  const r = new DerReader(enc, readRoot(enc, 'Seq'), 'Seq');
  assert.equal(decodeSmallInteger(enc, r.next('version', Tag.integer)), 1);
  assert.equal(r.optional('flag', Tag.boolean), undefined);
  assert.throws(() => r.next('name', Tag.integer), /Seq\.name: expected tag 0x02, found 0x06/);
  const r2 = new DerReader(enc, readRoot(enc, 'Seq'), 'Seq');
  r2.next('version');
  assert.throws(() => r2.end(), /unexpected extra element/);
  r2.next('name');
  assert.throws(() => r2.next('more'), /Seq\.more: missing/);
});
