import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HpackDecoder, HpackError, encodeHeaders } from '../../../../src/hbone/h2/hpack.js';

// Header blocks made by an independent encoder (Python's hpack 4.0: Huffman strings, incremental
// indexing, so the later blocks refer to dynamic-table entries the earlier ones added).
const BLOCKS = [
  '4287bdab4e9c17b7ff418a08170ae25d9b8f01e07f408794f6781d92164f8f94f641fc840b81702e1b8d000007f340884d83216b1d85a93fa7001600e575c6c2f85c248d33248f34d3c58c41091e03217c8b46e8e4723742e3e2032cb215801f40858c734c398b9feaf217a87495158c855ea1d258242ca3b684fd20b677310abd43a4b014939f',
  'c2c17f018f94f641fc840b81702e1b8d00000ff3bf',
  '884086f2b47e92547f8bffc7fffffe7fff1ffffe3f408825a849e95ba97d7f8925a849e95bb8e8b4bf',
  // A dynamic table size update to 256 (evicting entries), then new literals.
  '3fe1014287bdab4e9c17b7ff418808177d77d77ee07f',
];

test('decodes Huffman strings, the static and the dynamic table, and size updates, as another encoder wrote them', () => {
  const d = new HpackDecoder();
  const decode = (hex: string) => d.decode(Buffer.from(hex, 'hex'), 1 << 20).headers;
  assert.deepEqual(decode(BLOCKS[0]!), [
    [':method', 'CONNECT'],
    [':authority', '10.1.2.3:8080'],
    ['forwarded', 'for="10.0.0.1:40000"'],
    ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ['baggage', 'k8s.namespace.name=default,service.name=echo'],
  ]);
  assert.deepEqual(decode(BLOCKS[1]!), [
    [':method', 'CONNECT'],
    [':authority', '10.1.2.3:8080'],
    ['forwarded', 'for="10.0.0.1:40001"'],
    ['baggage', 'k8s.namespace.name=default,service.name=echo'],
  ]);
  assert.deepEqual(decode(BLOCKS[2]!), [
    [':status', '200'],
    ['x-bytes', '\x00\x7f\xc3\xbf'], // UTF-8 of "\0\x7f\xff", read as bytes
    ['custom-key', 'custom-value'],
  ]);
  assert.deepEqual(decode(BLOCKS[3]!), [
    [':method', 'CONNECT'],
    [':authority', '10.9.9.9:1'],
  ]);
});

test('what we encode (literals without indexing) decodes to the same fields', () => {
  const fields: Array<[string, string]> = [
    [':status', '200'],
    ['x-long', 'v'.repeat(300)],
    ['baggage', 'k8s.namespace.name=default'],
  ];
  assert.deepEqual(new HpackDecoder().decode(encodeHeaders(fields), 1 << 20).headers, fields);
});

test('garbage is an HpackError, never a crash or a wrong header', () => {
  const bad = [
    '80', // index 0
    'fe', // index 126: past both tables
    'ff8080808080808001', // an integer over 2^31
    '0085f2b24a84', // a literal whose string runs past the block
    '00817f', // Huffman: a code that is not padding-shaped (7 zero bits)
    '0084ffffffff', // Huffman: EOS inside the string
    '3fe21f', // a table size update over the 4096 we allow
    '823fe11f', // a table size update after a field
  ];
  for (const hex of bad) {
    assert.throws(() => new HpackDecoder().decode(Buffer.from(hex, 'hex'), 1 << 20), HpackError, hex);
  }
});

test('the decoded size counts every field (name + value + 32) even past the limit', () => {
  const block = encodeHeaders([['x-big', 'a'.repeat(20_000)]]);
  const r = new HpackDecoder().decode(block, 16_384);
  assert.equal(r.size, 5 + 20_000 + 32);
  assert.deepEqual(r.headers, []);
});
