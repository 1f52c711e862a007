/**
 * The native primitives against real kernel capture: two network namespaces joined by a veth,
 * nftables REDIRECT inside one of them, listeners and clients created in the namespaces by the
 * addon. Needs root; skipped (with a message) otherwise. Names carry `mlt-<pid>-` so parallel runs
 * do not collide, and everything is removed in `after`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import {
  connectInNamespace,
  getMark,
  getOriginalDst,
  listenInNamespace,
  nativeStatus,
  ZTUNNEL_MARK,
  type OriginalDst,
} from '../../../src/native/index.js';
import {
  addRoute,
  addRule,
  applyNftRuleset,
  cleanupLeftovers,
  createNetns,
  createVethPair,
  execInNetns,
  findLeftovers,
  netnsPath,
  tablePrefix,
} from '../../../src/local/netns/index.js';
import { MeshError } from '../../../src/common/errors.js';

const isRoot = process.getuid?.() === 0;
const skip = isRoot
  ? false
  : 'needs root: creates network namespaces and nftables rules (run the e2e tests as root)';

const prefix = `mlt-${process.pid}-`;
const nsA = `${prefix}a`; // the "pod": capture rules, the redirect listener, the client
const nsB = `${prefix}b`; // the destination host
const captureTable = `${tablePrefix(prefix)}capture`;
const srcTable = `${tablePrefix(prefix)}srcpreserve`;
const A4 = '10.77.0.1';
const B4 = '10.77.0.2';
const A6 = 'fd77::1';
const B6 = 'fd77::2';

/** Reads everything the peer sends until it closes. */
function readAll(socket: Socket): Promise<string> {
  socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
  return new Promise((resolve, reject) => {
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (data += c));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

function threadNetns(): number {
  return statSync('/proc/thread-self/ns/net').ino;
}

describe('native capture primitives in real network namespaces', { skip }, () => {
  const servers: Server[] = [];
  const seen: OriginalDst[] = [];

  before(async () => {
    const status = nativeStatus();
    assert.ok(status.available, `the native addon must be built for these tests: ${status.reason}`);
    await cleanupLeftovers(prefix);
    await createNetns(nsA);
    await createNetns(nsB);
    await createVethPair(
      { name: `${prefix}va`, netns: nsA, addresses: [`${A4}/24`, `${A6}/64`] },
      { name: `${prefix}vb`, netns: nsB, addresses: [`${B4}/24`, `${B6}/64`] },
    );
    // The destination: a plain server in B on 8080 (both families) that names itself.
    const fromB = (s: Socket): void => void s.end('from-b');
    servers.push(await listenInNamespace(netnsPath(nsB), { host: '0.0.0.0', port: 8080 }, fromB));
    servers.push(await listenInNamespace(netnsPath(nsB), { host: '::', port: 8080, ipv6Only: true }, fromB));
    // The capture listener in A on 15001, as ztunnel's outbound listener: reports the original dst.
    const capture = (s: Socket): void => {
      const dst = getOriginalDst(s);
      seen.push(dst);
      s.end(`captured ${dst.ip} ${dst.port} v${dst.family}`);
    };
    servers.push(await listenInNamespace(netnsPath(nsA), { host: '0.0.0.0', port: 15001 }, capture));
    servers.push(
      await listenInNamespace(netnsPath(nsA), { host: '::', port: 15001, ipv6Only: true }, capture),
    );
    // A dual-stack listener (IPv4 arrives v4-mapped) on 15002.
    servers.push(await listenInNamespace(netnsPath(nsA), { host: '::', port: 15002 }, capture));
    await applyNftRuleset(
      nsA,
      `table inet ${captureTable} {
        chain output {
          type nat hook output priority -100; policy accept;
          meta mark ${ZTUNNEL_MARK} return
          ip daddr 127.0.0.0/8 return
          ip6 daddr ::1 return
          tcp dport 8080 redirect to :15001
          tcp dport 8081 redirect to :15002
        }
      }`,
    );
  });

  after(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    await cleanupLeftovers(prefix);
  });

  test('a redirected IPv4 connection reports the address the client asked for', async () => {
    const before = threadNetns();
    const client = connectInNamespace(netnsPath(nsA), { host: B4, port: 8080 });
    assert.equal(await readAll(client), `captured ${B4} 8080 v4`);
    assert.deepEqual(seen.at(-1), { ip: B4, port: 8080, family: 4 });
    assert.equal(threadNetns(), before, "Node's own thread must stay in its namespace");
  });

  test('a separate process in the namespace is captured the same way', async () => {
    const script = `const s=require('net').connect(8080,'${B4}');let d='';s.on('data',c=>d+=c);s.on('end',()=>process.stdout.write(d))`;
    const { stdout } = await execInNetns(nsA, process.execPath, ['-e', script]);
    assert.equal(stdout, `captured ${B4} 8080 v4`);
  });

  test('a socket marked 0x539 is not captured and reaches the real destination', async () => {
    const client = connectInNamespace(netnsPath(nsA), { host: B4, port: 8080, mark: ZTUNNEL_MARK });
    client.once('connect', () => assert.equal(getMark(client), ZTUNNEL_MARK));
    assert.equal(await readAll(client), 'from-b');
  });

  test("with allowHalfOpen the server's FIN does not end our side: what we send after it arrives", async () => {
    // A server that says its piece and closes its sending side, then reads until the client's FIN
    // (a proxy's socket to an app must pass a FIN on, not answer it with its own).
    let serverGot: (data: string) => void = () => undefined;
    const got = new Promise<string>((resolve) => (serverGot = resolve));
    const server = await listenInNamespace(netnsPath(nsB), { host: '0.0.0.0', port: 8082 }, (s) => {
      let data = '';
      s.setEncoding('utf8');
      s.on('data', (c: string) => (data += c));
      s.on('end', () => serverGot(data));
      s.end('banner');
    });
    servers.push(server);
    const client = connectInNamespace(netnsPath(nsA), {
      host: B4,
      port: 8082,
      mark: ZTUNNEL_MARK,
      allowHalfOpen: true,
      noDelay: true,
    });
    assert.equal(await readAll(client), 'banner');
    client.end('after the banner');
    assert.equal(await got, 'after the banner');
  });

  test('a redirected IPv6 connection reports its original destination', async () => {
    const client = connectInNamespace(netnsPath(nsA), { host: B6, port: 8080 });
    assert.equal(await readAll(client), `captured ${B6} 8080 v6`);
    assert.deepEqual(seen.at(-1), { ip: B6, port: 8080, family: 6 });
  });

  test('an IPv4 connection redirected to a dual-stack listener reports a plain IPv4 destination', async () => {
    const client = connectInNamespace(netnsPath(nsA), { host: B4, port: 8081 });
    assert.equal(await readAll(client), `captured ${B4} 8081 v4`);
  });

  test('binding a foreign address needs transparent: true', async () => {
    await assert.rejects(
      listenInNamespace(netnsPath(nsA), { host: '10.99.0.1', port: 15006 }),
      (err: unknown) =>
        err instanceof MeshError && err.code === 'NATIVE_ERR_SYSCALL' && /EADDRNOTAVAIL/.test(err.message),
    );
    const server = await listenInNamespace(netnsPath(nsA), {
      host: '10.99.0.1',
      port: 15006,
      transparent: true,
    });
    assert.deepEqual(server.address(), { address: '10.99.0.1', family: 'IPv4', port: 15006 });
    await new Promise((r) => server.close(r));
  });

  test("a transparent socket keeps the client's source address toward the app", async () => {
    // Istio's in-pod reply path: connections from ztunnel's marked sockets get connmark 0x111, and
    // packets of such connections are routed to the local table so replies reach the socket.
    await applyNftRuleset(
      nsA,
      `table ip ${srcTable} {
        chain output {
          type route hook output priority mangle; policy accept;
          meta mark ${ZTUNNEL_MARK} ct mark set 0x111
          ct mark 0x111 meta mark set 0x111
        }
      }`,
    );
    // The app's reply needs a route before it can be rerouted: pods have a default route.
    await addRoute(nsA, { to: 'default', via: B4 });
    await addRule(nsA, { fwmark: 0x111, table: 100 });
    await addRoute(nsA, { type: 'local', to: '0.0.0.0/0', dev: 'lo', table: 100 });
    const app = await listenInNamespace(netnsPath(nsA), { host: A4, port: 9090 }, (s) =>
      s.end(String(s.remoteAddress)),
    );
    servers.push(app);
    const client = connectInNamespace(netnsPath(nsA), {
      host: A4,
      port: 9090,
      localAddress: '10.99.0.7',
      transparent: true,
      mark: ZTUNNEL_MARK,
    });
    assert.equal(await readAll(client), '10.99.0.7');
  });

  test('a namespace that does not exist is a clear error, thrown at once', () => {
    assert.throws(
      () => connectInNamespace(`/run/netns/${prefix}missing`, { host: B4, port: 8080 }),
      (err: unknown) =>
        err instanceof MeshError &&
        /namespace .*missing/.test(err.message) &&
        /ip netns list/.test(err.message),
    );
  });

  test('cleanup leaves no namespaces, links or tables behind', async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    const { errors } = await cleanupLeftovers(prefix);
    assert.deepEqual(errors, []);
    assert.deepEqual(await findLeftovers(prefix), { namespaces: [], links: [], tables: [] });
  });
});
