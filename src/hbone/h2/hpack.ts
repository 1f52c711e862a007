import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffman-table.js';

/** HPACK (RFC 7541) for HBONE's few headers: a full decoder, and an encoder of literals without indexing. */

// prettier-ignore
const STATIC: ReadonlyArray<readonly [string, string]> = [
  ['', ''], // index 0 is unused
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''],
  ['cache-control', ''], ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''],
  ['content-length', ''], ['content-location', ''], ['content-range', ''], ['content-type', ''],
  ['cookie', ''], ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''],
  ['if-match', ''], ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''],
  ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''],
  ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''],
  ['retry-after', ''], ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''],
  ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];
const STATIC_COUNT = STATIC.length - 1;

/** Raised for anything that is not valid HPACK; the connection answers GOAWAY(COMPRESSION_ERROR). */
export class HpackError extends Error {}

/** Huffman decoding tree: node n has children tree[2n] (bit 0) and tree[2n+1] (bit 1); leaves are -1 - symbol. */
const tree = buildTree();

function buildTree(): Int32Array {
  const t = new Int32Array(2 * 512).fill(0);
  let next = 1;
  for (let sym = 0; sym < 257; sym++) {
    const code = HUFFMAN_CODES[sym]!;
    const len = HUFFMAN_LENGTHS[sym]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const slot = 2 * node + ((code >>> i) & 1);
      if (i === 0) t[slot] = -1 - sym;
      else {
        if (t[slot] === 0) t[slot] = next++;
        node = t[slot]!;
      }
    }
  }
  return t;
}

function huffmanDecode(buf: Buffer, start: number, end: number): string {
  const out: number[] = [];
  let node = 0;
  let depth = 0; // bits since the last symbol
  let allOnes = true;
  for (let p = start; p < end; p++) {
    const byte = buf[p]!;
    for (let i = 7; i >= 0; i--) {
      const bit = (byte >> i) & 1;
      const v = tree[2 * node + bit]!;
      depth++;
      if (bit === 0) allOnes = false;
      if (v < 0) {
        const sym = -1 - v;
        if (sym === 256) throw new HpackError('Huffman string contains EOS');
        out.push(sym);
        node = 0;
        depth = 0;
        allOnes = true;
      } else if (v === 0) {
        throw new HpackError('invalid Huffman code');
      } else node = v;
    }
  }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (depth > 7 || !allOnes) throw new HpackError('invalid Huffman padding');
  return Buffer.from(out).toString('latin1');
}

/** Decoded header fields in order, as [name, value] pairs. */
export type HeaderList = Array<[string, string]>;

export class HpackDecoder {
  private readonly dyn: Array<[string, string]> = [];
  private dynSize = 0;
  private maxSize: number;
  /** The limit we advertised (SETTINGS_HEADER_TABLE_SIZE); size updates may not exceed it. */
  private readonly limit: number;
  private pos = 0;

  constructor(limit = 4096) {
    this.limit = limit;
    this.maxSize = limit;
  }

  /**
   * Decodes one header block. Stops adding fields past `maxListSize` (RFC 9113 section 6.5.2 sizes)
   * but still decodes the block to keep the dynamic table in step; `size` reports the full size.
   */
  decode(block: Buffer, maxListSize: number): { headers: HeaderList; size: number } {
    const headers: HeaderList = [];
    let size = 0;
    this.pos = 0;
    let fieldSeen = false;
    while (this.pos < block.length) {
      const b = block[this.pos]!;
      let name: string;
      let value: string;
      if (b & 0x80) {
        const idx = this.int(block, 7);
        [name, value] = this.entry(idx);
      } else if (b & 0x40) {
        [name, value] = this.literal(block, 6);
        this.insert(name, value);
      } else if (b & 0x20) {
        if (fieldSeen) throw new HpackError('dynamic table size update after a header field');
        const n = this.int(block, 5);
        if (n > this.limit)
          throw new HpackError(`dynamic table size update to ${n} over the limit ${this.limit}`);
        this.maxSize = n;
        this.evict(0);
        continue;
      } else {
        [name, value] = this.literal(block, 4);
      }
      fieldSeen = true;
      size += name.length + value.length + 32;
      if (size <= maxListSize) headers.push([name, value]);
    }
    return { headers, size };
  }

  private entry(idx: number): readonly [string, string] {
    if (idx === 0) throw new HpackError('index 0');
    if (idx <= STATIC_COUNT) return STATIC[idx]!;
    const e = this.dyn[idx - STATIC_COUNT - 1];
    if (!e) throw new HpackError(`index ${idx} is outside the tables`);
    return e;
  }

  private literal(block: Buffer, prefix: number): [string, string] {
    const idx = this.int(block, prefix);
    const name = idx === 0 ? this.str(block) : this.entry(idx)[0];
    return [name, this.str(block)];
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.evict(size);
    if (size <= this.maxSize) {
      this.dyn.unshift([name, value]);
      this.dynSize += size;
    }
  }

  private evict(room: number): void {
    while (this.dyn.length > 0 && this.dynSize + room > this.maxSize) {
      const [n, v] = this.dyn.pop()!;
      this.dynSize -= n.length + v.length + 32;
    }
  }

  private int(block: Buffer, prefix: number): number {
    const max = (1 << prefix) - 1;
    let v = block[this.pos++]! & max;
    if (v < max) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= block.length) throw new HpackError('truncated integer');
      const b = block[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (v > 0x7fffffff || shift > 35) throw new HpackError('integer too large');
      if ((b & 0x80) === 0) return v;
    }
  }

  private str(block: Buffer): string {
    if (this.pos >= block.length) throw new HpackError('truncated string');
    const huff = (block[this.pos]! & 0x80) !== 0;
    const len = this.int(block, 7);
    const end = this.pos + len;
    if (end > block.length) throw new HpackError('string runs past the block');
    const s = huff ? huffmanDecode(block, this.pos, end) : block.toString('latin1', this.pos, end);
    this.pos = end;
    return s;
  }
}

/** Encodes header fields as literals without indexing (no state shared with the peer's decoder). */
export function encodeHeaders(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  let n = 0;
  for (const [k, v] of fields) n += k.length + v.length + 12;
  const out = Buffer.allocUnsafe(n);
  let p = 0;
  const int = (v: number, prefix: number, first: number): void => {
    const max = (1 << prefix) - 1;
    if (v < max) {
      out[p++] = first | v;
      return;
    }
    out[p++] = first | max;
    v -= max;
    while (v >= 0x80) {
      out[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    out[p++] = v;
  };
  for (const [k, v] of fields) {
    const idx = staticNameIndex(k);
    int(idx, 4, 0x00);
    if (idx === 0) {
      int(k.length, 7, 0);
      p += out.write(k, p, 'latin1');
    }
    int(v.length, 7, 0);
    p += out.write(v, p, 'latin1');
  }
  return out.subarray(0, p);
}

const nameIndex = new Map<string, number>();
for (let i = STATIC_COUNT; i >= 1; i--) nameIndex.set(STATIC[i]![0], i);

function staticNameIndex(name: string): number {
  return nameIndex.get(name) ?? 0;
}
