/** Builds DNS query packets for the tests (own tiny encoder, independent of the server's). */
export interface QueryOpts {
  id?: number;
  type?: number;
  cls?: number;
  /** EDNS0 UDP payload size; adds an OPT record. */
  edns?: number;
  ednsVersion?: number;
  flags?: number;
  qdcount?: number;
}

export function encodeName(name: string): Buffer {
  const parts = name === '' ? [] : name.replace(/\.$/, '').split('.');
  return Buffer.concat([
    ...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])),
    Buffer.from([0]),
  ]);
}

export function buildQuery(name: string, opts: QueryOpts = {}): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(opts.id ?? 0x1234, 0);
  h.writeUInt16BE(opts.flags ?? 0x0100, 2); // RD
  h.writeUInt16BE(opts.qdcount ?? 1, 4);
  h.writeUInt16BE(opts.edns === undefined ? 0 : 1, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(opts.type ?? 1, 0);
  q.writeUInt16BE(opts.cls ?? 1, 2);
  const parts = [h, encodeName(name), q];
  if (opts.edns !== undefined) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(opts.edns, 3);
    opt.writeUInt32BE((opts.ednsVersion ?? 0) << 16, 5);
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

export interface DecodedResponse {
  id: number;
  flags: number;
  rcode: number;
  tc: boolean;
  aa: boolean;
  qdcount: number;
  answers: Array<{ type: number; ttl: number; data: string }>;
  arcount: number;
}

/** Decodes a response whose answers name the question by a pointer (as the server writes them). */
export function decodeResponse(buf: Buffer): DecodedResponse {
  const flags = buf.readUInt16BE(2);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  let p = 12;
  for (let i = 0; i < qd; i++) {
    while (buf[p] !== 0) p += buf[p]! + 1;
    p += 5;
  }
  const answers: DecodedResponse['answers'] = [];
  for (let i = 0; i < an; i++) {
    if ((buf[p]! & 0xc0) === 0xc0) p += 2;
    else {
      while (buf[p] !== 0) p += buf[p]! + 1;
      p += 1;
    }
    const type = buf.readUInt16BE(p);
    const ttl = buf.readUInt32BE(p + 4);
    const len = buf.readUInt16BE(p + 8);
    const rd = buf.subarray(p + 10, p + 10 + len);
    const data =
      type === 1
        ? [...rd].join('.')
        : type === 28
          ? [...Array(8).keys()].map((k) => rd.readUInt16BE(k * 2).toString(16)).join(':')
          : rd.toString('hex');
    answers.push({ type, ttl, data });
    p += 10 + len;
  }
  return {
    id: buf.readUInt16BE(0),
    flags,
    rcode: flags & 0xf,
    tc: (flags & 0x0200) !== 0,
    aa: (flags & 0x0400) !== 0,
    qdcount: qd,
    answers,
    arcount: buf.readUInt16BE(10),
  };
}
