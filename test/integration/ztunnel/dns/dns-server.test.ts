import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { execFile, execFileSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { DnsServer, type DnsClient } from '../../../../src/ztunnel/dns/dns-server.js';
import { buildQuery, decodeResponse, type DecodedResponse } from '../../../unit/ztunnel/dns/dns-query.js';

// ------------------------------------------------------------------ a fake upstream resolver on loopback

interface FakeUpstream {
  port: number;
  seen: Array<{ name: string; transport: 'udp' | 'tcp'; id: number }>;
  close: () => void;
}

function questionOf(q: Buffer): { name: string; end: number } {
  const labels: string[] = [];
  let p = 12;
  while (q[p] !== 0) {
    labels.push(q.subarray(p + 1, p + 1 + q[p]!).toString());
    p += q[p]! + 1;
  }
  return { name: labels.join('.').toLowerCase(), end: p + 5 };
}

/** Answers NAME with `count` A records 192.0.2.x; `slow.example` never; `nx.example` NXDOMAIN. */
function upstreamAnswer(q: Buffer, addr = '192.0.2'): Buffer | undefined {
  const { name, end } = questionOf(q);
  if (name === 'slow.example') return undefined;
  const count = name === 'big.example' ? 60 : 1;
  const out = Buffer.alloc(end + count * 16);
  q.copy(out, 0, 0, end);
  out.writeUInt16BE(0x8180 | (name === 'nx.example' ? 3 : 0), 2);
  out.writeUInt16BE(name === 'nx.example' ? 0 : count, 6);
  out.writeUInt32BE(0, 8); // no NS/AR (drops the query's OPT record)
  let p = end;
  for (let i = 0; i < count; i++) {
    out.writeUInt16BE(0xc00c, p);
    out.writeUInt16BE(1, p + 2);
    out.writeUInt16BE(1, p + 4);
    out.writeUInt32BE(300, p + 6);
    out.writeUInt16BE(4, p + 10);
    Buffer.from(`${addr}.${i + 1}`.split('.').map(Number)).copy(out, p + 12);
    p += 16;
  }
  return out.subarray(0, name === 'nx.example' ? end : p);
}

async function fakeUpstream(): Promise<FakeUpstream> {
  const seen: FakeUpstream['seen'] = [];
  const udp = dgram.createSocket('udp4');
  const spoofer = dgram.createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  const port = udp.address().port;
  udp.on('message', (q, rinfo) => {
    seen.push({ name: questionOf(q).name, transport: 'udp', id: q.readUInt16BE(0) });
    const a = upstreamAnswer(q);
    if (!a) return;
    if (questionOf(q).name === 'spoof.example') {
      // A forged answer with the right id from another port first; the real one a little later.
      spoofer.send(upstreamAnswer(q, '6.6.6')!, rinfo.port, rinfo.address);
      setTimeout(() => udp.send(a, rinfo.port, rinfo.address), 50);
      return;
    }
    udp.send(a, rinfo.port, rinfo.address);
  });
  const tcp = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + q.length);
        seen.push({ name: questionOf(q).name, transport: 'tcp', id: q.readUInt16BE(0) });
        const a = upstreamAnswer(q);
        if (!a) continue;
        const len = Buffer.alloc(2);
        len.writeUInt16BE(a.length);
        s.write(Buffer.concat([len, a]));
      }
    });
    s.on('error', () => {});
  });
  tcp.listen(port, '127.0.0.1');
  try {
    await once(tcp, 'listening');
  } catch {
    // Another process took this port for TCP meanwhile (tests run in parallel): try another pair.
    udp.close();
    spoofer.close();
    return fakeUpstream();
  }
  return {
    port,
    seen,
    close: () => {
      udp.close();
      spoofer.close();
      tcp.close();
    },
  };
}

// ------------------------------------------------------------------ clients

async function askUdp(port: number, packet: Buffer, waitMs = 3000): Promise<Buffer | undefined> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  try {
    const got = new Promise<Buffer | undefined>((resolve) => {
      const t = setTimeout(() => resolve(undefined), waitMs);
      s.once('message', (m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
    s.send(packet, port, '127.0.0.1');
    return await got;
  } finally {
    s.close();
  }
}

async function udp(port: number, packet: Buffer): Promise<DecodedResponse> {
  const r = await askUdp(port, packet);
  assert.ok(r, 'expected an answer');
  return decodeResponse(r);
}

/** Sends several queries on one TCP connection (in one write) and reads as many answers. */
async function tcp(port: number, packets: Buffer[]): Promise<DecodedResponse[]> {
  const s = net.connect({ port, host: '127.0.0.1' });
  await once(s, 'connect');
  const frames = packets.map((p) => {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(p.length);
    return Buffer.concat([len, p]);
  });
  s.write(Buffer.concat(frames));
  let buf = Buffer.alloc(0);
  const out: DecodedResponse[] = [];
  for await (const d of s) {
    buf = Buffer.concat([buf, d as Buffer]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      out.push(decodeResponse(buf.subarray(2, 2 + buf.readUInt16BE(0))));
      buf = buf.subarray(2 + buf.readUInt16BE(0));
    }
    if (out.length === packets.length) break;
  }
  s.destroy();
  return out;
}

// ------------------------------------------------------------------ the server under test

const MESH: Record<string, string[]> = {
  'echo.default.svc.cluster.local': ['10.96.0.10'],
  'dual.default.svc.cluster.local': ['10.96.0.11', 'fd00::11'],
  'wide.default.svc.cluster.local': Array.from({ length: 60 }, (_, i) => `10.97.0.${i}`),
};
const lookups: Array<{ name: string; client: DnsClient }> = [];
let upstream: FakeUpstream;
let server: DnsServer;
let port: number;
let registry: Registry;

async function resultCount(reg: Registry, result: string): Promise<number> {
  const m = await reg.getSingleMetric('ztunnel_dns_requests_total')!.get();
  return m.values.find((v) => v.labels.result === result)?.value ?? 0;
}

before(async () => {
  upstream = await fakeUpstream();
  registry = new Registry();
  server = new DnsServer({
    registry,
    upstream: [{ host: '127.0.0.1', port: upstream.port }],
    upstreamTimeoutMs: 300,
    lookup: (name, client) => {
      lookups.push({ name, client });
      const ips = MESH[name];
      return ips ? { ips } : undefined;
    },
  });
  const addrs = await server.listen(0, '127.0.0.1');
  assert.equal(addrs.udp.port, addrs.tcp.port, 'UDP and TCP share the port');
  port = addrs.udp.port;
});

after(async () => {
  await server.close();
  upstream.close();
});

test('a mesh name gets an authoritative A answer from lookup, with the TTL and the client address', async () => {
  const d = await udp(port, buildQuery('Echo.Default.svc.cluster.local.', { id: 5 }));
  assert.equal(d.id, 5);
  assert.equal(d.rcode, 0);
  assert.ok(d.aa);
  assert.deepEqual(d.answers, [{ type: 1, ttl: 30, data: '10.96.0.10' }]);
  assert.equal(lookups.at(-1)!.name, 'echo.default.svc.cluster.local');
  assert.equal(lookups.at(-1)!.client.ip, '127.0.0.1');
  assert.equal(upstream.seen.length, 0, 'nothing went upstream');
});

test('AAAA: the IPv6 VIPs; none for an IPv4-only service (NOERROR, empty)', async () => {
  const d6 = await udp(port, buildQuery('dual.default.svc.cluster.local', { type: 28 }));
  assert.deepEqual(d6.answers, [{ type: 28, ttl: 30, data: 'fd00:0:0:0:0:0:0:11' }]);
  const none = await udp(port, buildQuery('echo.default.svc.cluster.local', { type: 28 }));
  assert.equal(none.rcode, 0);
  assert.equal(none.answers.length, 0);
});

test('a name outside the mesh is relayed upstream and the answer comes back with the client id', async () => {
  const d = await udp(port, buildQuery('www.example', { id: 0xbeef }));
  assert.equal(d.id, 0xbeef);
  assert.deepEqual(d.answers, [{ type: 1, ttl: 300, data: '192.0.2.1' }]);
  assert.deepEqual(upstream.seen.at(-1)?.name, 'www.example');
  const nx = await udp(port, buildQuery('nx.example'));
  assert.equal(nx.rcode, 3, "upstream's NXDOMAIN is passed on");
});

test('an upstream that does not answer gives SERVFAIL', async () => {
  const d = await udp(port, buildQuery('slow.example', { id: 9 }));
  assert.equal(d.id, 9);
  assert.equal(d.rcode, 2);
  assert.ok((await resultCount(registry, 'servfail')) >= 1);
});

test('a forged upstream answer from another port is ignored; the real one is relayed', async () => {
  const d = await udp(port, buildQuery('spoof.example'));
  assert.deepEqual(d.answers, [{ type: 1, ttl: 300, data: '192.0.2.1' }]);
});

test('UDP answers past 512 bytes set TC; EDNS0 raises the limit; TCP carries all', async () => {
  const small = await udp(port, buildQuery('wide.default.svc.cluster.local'));
  assert.ok(small.tc);
  assert.ok(small.answers.length < 60);
  const edns = await udp(port, buildQuery('wide.default.svc.cluster.local', { edns: 4096 }));
  assert.equal(edns.tc, false);
  assert.equal(edns.answers.length, 60);
  const [viaTcp] = await tcp(port, [buildQuery('wide.default.svc.cluster.local')]);
  assert.equal(viaTcp!.tc, false);
  assert.equal(viaTcp!.answers.length, 60);
  const relayed = await udp(port, buildQuery('big.example'));
  assert.ok(relayed.tc, 'a relayed answer too big for the client is truncated too');
  assert.equal(relayed.answers.length, 0);
});

test('TCP: pipelined queries on one connection, mesh and forwarded (over TCP upstream)', async () => {
  const [a, b] = await tcp(port, [
    buildQuery('echo.default.svc.cluster.local', { id: 1 }),
    buildQuery('tcp.example', { id: 2 }),
  ]);
  const byId = new Map([a!, b!].map((r) => [r.id, r]));
  assert.deepEqual(byId.get(1)?.answers, [{ type: 1, ttl: 30, data: '10.96.0.10' }]);
  assert.deepEqual(byId.get(2)?.answers, [{ type: 1, ttl: 300, data: '192.0.2.1' }]);
  assert.deepEqual(upstream.seen.at(-1), { name: 'tcp.example', transport: 'tcp', id: 2 });
});

test('bad queries: FORMERR where a header can be answered, dropped otherwise, other clients unaffected', async () => {
  const reg = new Registry();
  const s = new DnsServer({ registry: reg, upstream: [], lookup: () => ({ ips: ['10.0.0.1'] }) });
  const p = (await s.listen(0, '127.0.0.1')).udp.port;
  assert.equal(await askUdp(p, Buffer.from([1, 2, 3]), 300), undefined, 'too short: no answer');
  const junk = Buffer.concat([buildQuery('a').subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
  const loop = await udp(p, junk);
  assert.equal(loop.rcode, 1);
  assert.equal(loop.id, 0x1234);
  const huge = await udp(p, Buffer.concat([buildQuery('a', { id: 3 }), Buffer.alloc(6000)]));
  assert.equal(huge.rcode, 1);
  assert.equal(huge.id, 3);
  assert.equal((await udp(p, buildQuery('a', { qdcount: 2 }))).rcode, 1);
  assert.equal((await udp(p, buildQuery('a', { flags: 2 << 11 }))).rcode, 4, 'STATUS opcode: NOTIMP');
  assert.equal((await udp(p, buildQuery('a', { edns: 1232, ednsVersion: 1 }))).arcount, 1, 'BADVERS in OPT');
  // TCP: a length prefix over the limit closes the connection without reading 64 KiB.
  const c = net.connect({ port: p, host: '127.0.0.1' });
  await once(c, 'connect');
  c.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
  c.resume();
  await once(c, 'close');
  assert.equal(await resultCount(reg, 'formerr'), 4);
  assert.equal(await resultCount(reg, 'dropped'), 1);
  // Still serving.
  assert.deepEqual((await udp(p, buildQuery('ok.mesh'))).answers, [{ type: 1, ttl: 30, data: '10.0.0.1' }]);
  await s.close();
});

test('no upstream: names outside the mesh are REFUSED; authoritative suffixes give NXDOMAIN', async () => {
  const reg = new Registry();
  const s = new DnsServer({
    registry: reg,
    upstream: [],
    authoritativeSuffixes: ['svc.cluster.local'],
    lookup: (name) => (name === 'a.ns.svc.cluster.local' ? { ips: ['10.0.0.1'] } : undefined),
  });
  const p = (await s.listen(0, '127.0.0.1')).udp.port;
  assert.equal((await udp(p, buildQuery('google.com'))).rcode, 5);
  const nx = await udp(p, buildQuery('b.ns.svc.cluster.local'));
  assert.equal(nx.rcode, 3);
  assert.ok(nx.aa);
  assert.equal((await udp(p, buildQuery('a.ns.svc.cluster.local'))).answers.length, 1);
  assert.equal(await resultCount(reg, 'refused'), 1);
  assert.equal(await resultCount(reg, 'nxdomain'), 1);
  assert.equal(await resultCount(reg, 'answered_mesh'), 1);
  await s.close();
});

function hasDig(): boolean {
  try {
    execFileSync('dig', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('dig gets mesh answers over UDP and TCP', { skip: !hasDig() && 'dig is not installed' }, async () => {
  const dig = (args: string[]): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile(
        'dig',
        [`@127.0.0.1`, '-p', String(port), '+short', '+tries=1', '+time=2', ...args],
        (err, out) => (err ? reject(err) : resolve(out.trim())),
      ),
    );
  assert.equal(await dig(['echo.default.svc.cluster.local', 'A']), '10.96.0.10');
  assert.equal(await dig(['+tcp', 'dual.default.svc.cluster.local', 'AAAA']), 'fd00::11');
  assert.equal(await dig(['www.example', 'A']), '192.0.2.1');
});
