import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { once } from 'node:events';
import { execFile, execFileSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { pump } from '../../../../src/common/pump.js';
import { Socks5Server, type Socks5Request } from '../../../../src/ztunnel/socks5/socks5-server.js';

const b = (...x: number[]): Buffer => Buffer.from(x);
const SUCCESS = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0];

/** Collects what a client receives, to wait for a number of bytes or for the close. */
class Client {
  readonly socket: net.Socket;
  data = Buffer.alloc(0);
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(port: number) {
    this.socket = net.connect({ port, host: '127.0.0.1' });
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => {
      this.data = Buffer.concat([this.data, d]);
      this.wake();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async until(cond: () => boolean): Promise<void> {
    while (!cond()) await new Promise<void>((r) => this.waiters.push(r));
  }

  async bytes(n: number): Promise<number[]> {
    await this.until(() => this.data.length >= n || this.closed);
    assert.ok(this.data.length >= n, `expected ${n} bytes, got [${[...this.data].join(',')}] and a close`);
    return [...this.data.subarray(0, n)];
  }

  /** Waits for the server to close; returns everything received. */
  async closedWith(): Promise<number[]> {
    await this.until(() => this.closed);
    return [...this.data];
  }
}

function ipv4Request(ip: string, port: number): Buffer {
  return Buffer.concat([b(5, 1, 0, 1), Buffer.from(ip.split('.').map(Number)), b(port >> 8, port & 0xff)]);
}

function domainRequest(name: string, port: number): Buffer {
  const n = Buffer.from(name, 'latin1');
  return Buffer.concat([b(5, 1, 0, 3, n.length), n, b(port >> 8, port & 0xff)]);
}

// An echo server as the destination, and a SOCKS5 server whose onConnect plays the outbound path:
// it connects to the echo server (the mesh VIP 10.96.0.10 stands for it) and pumps bytes.
const MESH: Record<string, string> = { echo: '10.96.0.10', 'echo.default': '10.96.0.10' };
let echo: net.Server;
let echoPort: number;
let web: http.Server;
let webPort: number;
let socks: Socks5Server;
let port: number;
let registry: Registry;
const requests: Socks5Request[] = [];
const resolveCalls: Array<{ hostname: string; ip: string }> = [];
const live = new Set<net.Socket>();

function errorsFor(reg: Registry, reason: string): Promise<number> {
  return reg
    .getSingleMetric('ztunnel_socks5_errors_total')!
    .get()
    .then((m) => m.values.find((v) => v.labels.reason === reason)?.value ?? 0);
}

before(async () => {
  echo = net.createServer({ allowHalfOpen: true }, (s) => {
    live.add(s);
    s.on('close', () => live.delete(s));
    s.pipe(s);
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  echoPort = (echo.address() as net.AddressInfo).port;
  web = http.createServer((req, res) => res.end(`hello ${req.headers.host}`));
  web.listen(0, '127.0.0.1');
  await once(web, 'listening');
  webPort = (web.address() as net.AddressInfo).port;

  registry = new Registry();
  socks = new Socks5Server({
    registry,
    resolve: (hostname, client) => {
      resolveCalls.push({ hostname, ip: client.ip });
      return MESH[hostname];
    },
    onConnect: (req) => {
      requests.push(req);
      if (req.dst.port === 9) {
        req.fail(5);
        return;
      }
      const target = req.dst.port === webPort ? webPort : echoPort;
      const up = net.connect({ port: target, host: '127.0.0.1', allowHalfOpen: true });
      live.add(up);
      up.on('close', () => live.delete(up));
      up.once('connect', () => pump(req.succeed(), up, () => {}));
      up.once('error', () => req.fail(5));
    },
  });
  port = (await socks.listen(0, '127.0.0.1')).port;
});

after(async () => {
  await socks.close();
  for (const s of live) s.destroy();
  echo.close();
  web.closeAllConnections();
  web.close();
});

test('CONNECT by IPv4: method reply, success reply, then the tunnel carries bytes both ways', async () => {
  const c = new Client(port);
  c.socket.write(b(5, 1, 0));
  assert.deepEqual(await c.bytes(2), [5, 0]);
  c.socket.write(ipv4Request('127.0.0.1', echoPort));
  assert.deepEqual((await c.bytes(12)).slice(2), SUCCESS);
  c.socket.write('ping');
  await c.bytes(16);
  assert.equal(c.data.subarray(12).toString(), 'ping');
  const req = requests.at(-1)!;
  assert.deepEqual(req.dst, { ip: '127.0.0.1', port: echoPort });
  assert.equal(req.clientAddr.ip, '127.0.0.1');
  assert.equal(req.clientAddr.port, c.socket.localPort);
  assert.equal(req.hostname, undefined);
  c.socket.end();
  await c.closedWith();
});

test('greeting, request and payload in one packet: no byte after the request is lost', async () => {
  const c = new Client(port);
  const payload = Buffer.alloc(5000, 'x');
  c.socket.write(Buffer.concat([b(5, 1, 0), ipv4Request('127.0.0.1', echoPort), payload]));
  await c.bytes(12 + payload.length);
  assert.deepEqual([...c.data.subarray(0, 12)], [5, 0, ...SUCCESS]);
  assert.ok(c.data.subarray(12).equals(payload));
  c.socket.end();
  assert.equal((await c.closedWith()).length, 12 + payload.length);
});

test('a client sending one byte at a time is served', async () => {
  const c = new Client(port);
  const all = Buffer.concat([b(5, 2, 2, 0), domainRequest('echo', 7000), Buffer.from('slow')]);
  for (const byte of all) {
    c.socket.write(b(byte));
    await new Promise((r) => setTimeout(r, 2));
  }
  await c.bytes(16);
  assert.deepEqual([...c.data.subarray(0, 12)], [5, 0, ...SUCCESS]);
  assert.equal(c.data.subarray(12).toString(), 'slow');
  c.socket.destroy();
});

test('a mesh name is resolved through `resolve` with the client address; the hostname is kept', async () => {
  const c = new Client(port);
  c.socket.write(Buffer.concat([b(5, 1, 0), domainRequest('Echo.Default.', 8080)]));
  assert.deepEqual((await c.bytes(12)).slice(2), SUCCESS);
  const req = requests.at(-1)!;
  assert.deepEqual(req.dst, { ip: '10.96.0.10', port: 8080 });
  assert.equal(req.hostname, 'Echo.Default');
  assert.deepEqual(resolveCalls.at(-1), { hostname: 'echo.default', ip: '127.0.0.1' });
  c.socket.destroy();
});

test('a name outside the mesh is resolved with the system resolver (localhost from /etc/hosts)', async () => {
  const c = new Client(port);
  c.socket.write(Buffer.concat([b(5, 1, 0), domainRequest('localhost', 7001)]));
  assert.deepEqual((await c.bytes(12)).slice(2), SUCCESS);
  const req = requests.at(-1)!;
  assert.ok(['127.0.0.1', '::1'].includes(req.dst.ip), req.dst.ip);
  assert.equal(req.hostname, 'localhost');
  c.socket.destroy();
});

test('an IP literal sent as a domain is used as is', async () => {
  const c = new Client(port);
  c.socket.write(Buffer.concat([b(5, 1, 0), domainRequest('127.0.0.1', 7002)]));
  assert.deepEqual((await c.bytes(12)).slice(2), SUCCESS);
  assert.deepEqual(requests.at(-1)!.dst, { ip: '127.0.0.1', port: 7002 });
  c.socket.destroy();
});

test('fail(code) from the outbound path is the reply the client gets, then the close', async () => {
  const c = new Client(port);
  c.socket.write(Buffer.concat([b(5, 1, 0), ipv4Request('10.0.0.1', 9)]));
  assert.deepEqual(await c.closedWith(), [5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
});

test('an unresolvable name gets "host unreachable" (0x04) and is counted', async () => {
  const reg = new Registry();
  const s = new Socks5Server({
    registry: reg,
    resolve: () => undefined,
    lookupHost: () => Promise.reject(new Error('ENOTFOUND')),
    onConnect: () => assert.fail('no request expected'),
  });
  const p = (await s.listen(0, '127.0.0.1')).port;
  const c = new Client(p);
  c.socket.write(Buffer.concat([b(5, 1, 0), domainRequest('nope.example', 80)]));
  assert.deepEqual(await c.closedWith(), [5, 0, 5, 4, 0, 1, 0, 0, 0, 0, 0, 0]);
  assert.equal(await errorsFor(reg, 'resolve_failed'), 1);
  await s.close();
});

const BAD: Array<{ name: string; send: Buffer; end?: boolean; expect: number[]; reason: string }> = [
  {
    name: 'HTTP garbage',
    send: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    expect: [],
    reason: 'bad_version',
  },
  { name: 'a SOCKS4 request', send: b(4, 1, 0, 80, 127, 0, 0, 1, 0), expect: [], reason: 'bad_version' },
  { name: 'username/password only', send: b(5, 1, 2), expect: [5, 0xff], reason: 'no_acceptable_method' },
  {
    name: 'BIND',
    send: b(5, 1, 0, 5, 2, 0, 1, 127, 0, 0, 1, 0, 80),
    expect: [5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0],
    reason: 'unsupported_command',
  },
  {
    name: 'UDP ASSOCIATE',
    send: b(5, 1, 0, 5, 3, 0, 1, 0, 0, 0, 0, 0, 0),
    expect: [5, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0],
    reason: 'unsupported_command',
  },
  {
    name: 'address type 9',
    send: b(5, 1, 0, 5, 1, 0, 9, 1, 2, 3, 4, 0, 80),
    expect: [5, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0],
    reason: 'unsupported_address_type',
  },
  {
    name: 'an oversized domain',
    send: Buffer.concat([b(5, 1, 0), domainRequest('a'.repeat(255), 80)]),
    expect: [5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0],
    reason: 'bad_domain',
  },
  {
    name: 'a request version other than 5',
    send: b(5, 1, 0, 4, 1, 0, 1, 1, 2, 3, 4, 0, 80),
    expect: [5, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0],
    reason: 'bad_version',
  },
  {
    name: 'a request cut short',
    send: b(5, 1, 0, 5, 1, 0, 1, 127, 0),
    end: true,
    expect: [5, 0],
    reason: 'truncated',
  },
];

test('bad input is answered where SOCKS5 has an answer, closed, and counted by reason', async () => {
  const reg = new Registry();
  const s = new Socks5Server({
    registry: reg,
    resolve: () => undefined,
    onConnect: () => assert.fail('no request'),
  });
  const p = (await s.listen(0, '127.0.0.1')).port;
  // A good client mid-way through its own session on the main server is not disturbed by any of this.
  const good = new Client(port);
  good.socket.write(Buffer.concat([b(5, 1, 0), ipv4Request('127.0.0.1', echoPort), Buffer.from('a')]));
  await good.bytes(13);
  for (const bad of BAD) {
    const c = new Client(p);
    if (bad.end) c.socket.end(bad.send);
    else c.socket.write(bad.send);
    assert.deepEqual(await c.closedWith(), bad.expect, bad.name);
  }
  for (const reason of new Set(BAD.map((x) => x.reason)))
    assert.equal(await errorsFor(reg, reason), BAD.filter((x) => x.reason === reason).length, reason);
  good.socket.write('b');
  await good.bytes(14);
  assert.equal(good.data.subarray(12).toString(), 'ab');
  good.socket.destroy();
  await s.close();
});

test('a client that stalls mid-handshake is closed at the handshake timeout', async () => {
  const reg = new Registry();
  const s = new Socks5Server({
    registry: reg,
    handshakeTimeoutMs: 150,
    resolve: () => undefined,
    onConnect: () => assert.fail('no request'),
  });
  const p = (await s.listen(0, '127.0.0.1')).port;
  const c = new Client(p);
  c.socket.write(b(5, 1, 0, 5, 1));
  assert.deepEqual(await c.closedWith(), [5, 0]);
  assert.equal(await errorsFor(reg, 'timeout'), 1);
  await s.close();
});

test('close() ends connections still in their handshake', async () => {
  const s = new Socks5Server({ resolve: () => undefined, onConnect: () => assert.fail('no request') });
  const p = (await s.listen(0, '127.0.0.1')).port;
  const c = new Client(p);
  c.socket.write(b(5, 1, 0));
  await c.bytes(2);
  await s.close();
  await c.closedWith();
});

function hasCurl(): boolean {
  try {
    execFileSync('curl', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], (err, stdout, stderr) =>
      err ? reject(new Error(`curl failed: ${stderr || err.message}`)) : resolve(stdout),
    );
  });
}

test(
  'curl --socks5 (client-side resolution) reaches the destination',
  { skip: !hasCurl() && 'no curl' },
  async () => {
    const out = await curl(['--socks5', `127.0.0.1:${port}`, `http://127.0.0.1:${webPort}/`]);
    assert.equal(out, `hello 127.0.0.1:${webPort}`);
  },
);

test(
  'curl --socks5-hostname sends the mesh name, resolved by the server',
  { skip: !hasCurl() && 'no curl' },
  async () => {
    const out = await curl(['--socks5-hostname', `127.0.0.1:${port}`, `http://echo.default:${webPort}/`]);
    assert.equal(out, `hello echo.default:${webPort}`);
    assert.equal(requests.at(-1)!.hostname, 'echo.default');
    assert.deepEqual(requests.at(-1)!.dst, { ip: '10.96.0.10', port: webPort });
  },
);
