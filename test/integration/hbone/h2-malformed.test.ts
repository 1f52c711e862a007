// A peer that breaks HTTP/2 against HBONE's own framer (HBONE_IMPL=own): raw frames over a real mutual
// TLS connection. Each gets the RFC 9113 answer (GOAWAY for connection errors, RST_STREAM for stream
// errors), and a tunnel open on another connection is undisturbed throughout.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { once } from 'node:events';
import { HboneServer } from '../../../src/hbone/server.js';
import { HbonePool } from '../../../src/hbone/pool.js';
import { CertSlot } from '../../../src/hbone/credentials.js';
import { relayToTcp } from '../../../src/hbone/relay.js';
import { TestPki, uri, echoServer, captureLogger, until } from './fixtures.js';

const pki = new TestPki();
const serverCreds = pki.credentials('default', 'echo');
const clientCreds = pki.credentials('default', 'curl');
const echo = await echoServer();
const { logger, lines } = captureLogger();
const server = new HboneServer({
  impl: 'own',
  logger,
  certs: new CertSlot(serverCreds),
  // Port 1: a tunnel whose reader never reads (so the server grants no more window); else the echo.
  onRequest: (req) => {
    if (req.target.port === 1) held.push(req.accept());
    else relayToTcp(req, () => {}, { host: '127.0.0.1', port: echo.port });
  },
});
const held: unknown[] = [];
const { port } = await server.listen(0, '127.0.0.1');
const pool = new HbonePool({ impl: 'own' });
after(async () => {
  pool.close();
  await server.close();
  echo.server.close();
});

// A tunnel that must survive every bad peer below.
const survivor = await pool.connect({
  source: clientCreds,
  host: '127.0.0.1',
  port,
  expectedIdentities: [uri('default', 'echo')],
  target: `10.0.0.2:${echo.port}`,
});
async function survivorWorks(): Promise<void> {
  survivor.write('still here');
  const [d] = (await once(survivor, 'data')) as [Buffer];
  assert.equal(d.toString(), 'still here');
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const GOAWAY = 7;
const RST_STREAM = 3;
const HEADERS = 1;

function frame(type: number, flags: number, stream: number, payload: Buffer | number[] = []): Buffer {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(9);
  h.writeUIntBE(p.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, p]);
}

/** HPACK by hand (RFC 7541 section 6.2.2, literals without indexing): CONNECT to the echo server. */
function connectBlock(targetPort = echo.port): Buffer {
  const lit = (nameIndex: number, value: string): Buffer =>
    Buffer.concat([Buffer.from([nameIndex, value.length]), Buffer.from(value, 'latin1')]);
  return Buffer.concat([lit(2, 'CONNECT'), lit(1, `10.0.0.2:${targetPort}`)]); // :method, :authority
}

interface Frame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** A raw HTTP/2 client over mutual TLS: frames received are parsed into `frames`. */
async function raw(): Promise<{ sock: tls.TLSSocket; frames: Frame[]; closed: Promise<void> }> {
  const sock = tls.connect({
    host: '127.0.0.1',
    port,
    key: clientCreds.keyPem,
    cert: clientCreds.chainPem.join('\n'),
    ca: [pki.root.rootPem],
    ALPNProtocols: ['h2'],
    checkServerIdentity: () => undefined,
  });
  await once(sock, 'secureConnect');
  const frames: Frame[] = [];
  let buf = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      frames.push({
        type: buf[3]!,
        flags: buf[4]!,
        stream: buf.readUInt32BE(5),
        payload: buf.subarray(9, 9 + len),
      });
      buf = buf.subarray(9 + len);
    }
  });
  sock.on('error', () => {});
  const closed = once(sock, 'close').then(() => undefined);
  return { sock, frames, closed };
}

function goawayCode(frames: Frame[]): number | undefined {
  const g = frames.find((f) => f.type === GOAWAY);
  return g?.payload.readUInt32BE(4);
}

async function expectGoaway(write: Buffer, code: number, what: string): Promise<void> {
  const c = await raw();
  c.sock.write(write);
  await c.closed;
  assert.equal(goawayCode(c.frames), code, `${what}: GOAWAY code`);
  await survivorWorks();
}

const SETTINGS = frame(4, 0, 0);

test('a bad preface gets GOAWAY(PROTOCOL_ERROR) and the connection is closed', async () => {
  await expectGoaway(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 1, 'bad preface');
  await until(() => lines.some((l) => String(l.err).includes('client preface')), 2000, 'the log line');
});

test('a frame over SETTINGS_MAX_FRAME_SIZE gets GOAWAY(FRAME_SIZE_ERROR)', async () => {
  const huge = Buffer.alloc(9);
  huge.writeUIntBE(2 * 1024 * 1024, 0, 3); // 2 MiB DATA; we accept at most 1 MiB
  huge.writeUInt32BE(1, 5);
  await expectGoaway(Buffer.concat([PREFACE, SETTINGS, huge]), 6, 'oversized frame');
});

test('HPACK garbage gets GOAWAY(COMPRESSION_ERROR)', async () => {
  // An indexed field past both tables, then an integer that never ends.
  await expectGoaway(
    Buffer.concat([
      PREFACE,
      SETTINGS,
      frame(HEADERS, 0x4 | 0x1, 1, [0xfe, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ]),
    9,
    'HPACK garbage',
  );
});

test('a first frame other than SETTINGS, and an interrupted header block, get GOAWAY(PROTOCOL_ERROR)', async () => {
  await expectGoaway(Buffer.concat([PREFACE, frame(6, 0, 0, Buffer.alloc(8))]), 1, 'PING before SETTINGS');
  await expectGoaway(
    Buffer.concat([PREFACE, SETTINGS, frame(HEADERS, 0, 1, connectBlock()), frame(6, 0, 0, Buffer.alloc(8))]),
    1,
    'HEADERS without END_HEADERS, then PING',
  );
});

test('DATA on a closed stream gets RST_STREAM(STREAM_CLOSED); the connection and its other streams go on', async () => {
  const c = await raw();
  c.sock.write(Buffer.concat([PREFACE, SETTINGS, frame(HEADERS, 0x4, 1, connectBlock())]));
  await until(() => c.frames.some((f) => f.type === HEADERS && f.stream === 1), 3000, 'the 200 on stream 1');
  // We reset stream 1, then send DATA on it anyway.
  c.sock.write(Buffer.concat([frame(RST_STREAM, 0, 1, [0, 0, 0, 8]), frame(0, 0, 1, Buffer.from('late'))]));
  await until(() => c.frames.some((f) => f.type === RST_STREAM && f.stream === 1), 3000, 'RST_STREAM on 1');
  const rst = c.frames.find((f) => f.type === RST_STREAM && f.stream === 1)!;
  assert.equal(rst.payload.readUInt32BE(0), 5 /* STREAM_CLOSED */);
  // Stream 3 on the same connection still gets its 200 and echoes.
  c.sock.write(Buffer.concat([frame(HEADERS, 0x4, 3, connectBlock()), frame(0, 0, 3, Buffer.from('hi'))]));
  await until(
    () => c.frames.some((f) => f.type === 0 && f.stream === 3 && f.payload.toString() === 'hi'),
    3000,
    'the echo on stream 3',
  );
  assert.equal(goawayCode(c.frames), undefined);
  c.sock.destroy();
  await survivorWorks();
});

test('DATA past the stream window gets RST_STREAM(FLOW_CONTROL_ERROR) for that stream only', async () => {
  const c = await raw();
  // The server's stream window is 4 MiB and nothing reads the stream: send 4 MiB + 1 byte on it.
  c.sock.write(Buffer.concat([PREFACE, SETTINGS, frame(HEADERS, 0x4, 1, connectBlock(1))]));
  await until(() => c.frames.some((f) => f.type === HEADERS && f.stream === 1), 3000, 'the 200 on stream 1');
  const mib = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < 4; i++) c.sock.write(frame(0, 0, 1, mib));
  c.sock.write(frame(0, 0, 1, [1]));
  await until(() => c.frames.some((f) => f.type === RST_STREAM && f.stream === 1), 5000, 'RST_STREAM on 1');
  const rst = c.frames.find((f) => f.type === RST_STREAM && f.stream === 1)!;
  assert.equal(rst.payload.readUInt32BE(0), 3 /* FLOW_CONTROL_ERROR */);
  assert.equal(goawayCode(c.frames), undefined);
  c.sock.destroy();
  await survivorWorks();
});
