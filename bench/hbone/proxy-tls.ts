/**
 * The `node-tls` variant's proxies (a child process): the shape of haproxy's pair built from Node's own
 * pieces, with no HTTP/2 and no mesh logic — one mutual TLS 1.3 connection per client connection, the
 * bytes copied by the mesh's pump (src/common/pump.ts). It is the floor for any data path that carries
 * its bytes through `node:tls`: what our HBONE proxies cost above it is ours (HTTP/2 framing, CONNECT,
 * pooling), what it costs above haproxy is Node's TLS and event loop.
 *
 * Usage: proxy-tls.js a <pem dir> <proxy B port>     (TCP in, TLS to B; checks B's SPIFFE identity)
 *        proxy-tls.js b <pem dir> <server port>      (TLS in, requires A's certificate; TCP to the server)
 */
import net, { type AddressInfo } from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import { pump, resetStream } from '../../src/common/pump.js';
import { checkPeer } from '../../src/hbone/peer.js';
import { tuneGcForDataPath } from '../../src/common/data-path-gc.js';
import { loadCredentials, spiffeOf, TRUST_DOMAIN } from './materials.js';
import { onStop } from './child.js';

// As the mesh's proxies do at start (docs/runtime.md).
tuneGcForDataPath();

const [side, dir, upstreamPort] = process.argv.slice(2);
if ((side !== 'a' && side !== 'b') || !dir || !upstreamPort)
  throw new Error('usage: proxy-tls.js a|b <pem dir> <upstream port>');
const creds = loadCredentials(dir, side);
const trust = new Set([TRUST_DOMAIN]);
const peerOfA = new Set([spiffeOf('b')]);
let failures = 0;

function report(where: string, err: Error | undefined): void {
  if (err && failures++ < 5) process.stderr.write(`proxy-tls ${side}: ${where}: ${err.message}\n`);
}

function relay(down: net.Socket, up: net.Socket): void {
  pump(down, up, (r) => report('relay', r.error));
}

function ignore(): void {}

let server: net.Server;
if (side === 'a') {
  server = net.createServer({ allowHalfOpen: true, noDelay: true }, (down) => {
    down.on('error', ignore);
    const up = tls.connect({
      host: '127.0.0.1',
      port: Number(upstreamPort),
      secureContext: creds.secureContext(),
      minVersion: 'TLSv1.3',
      // Node passes it on to the socket (half-close carries the client's FIN); @types/node lacks it.
      ...({ allowHalfOpen: true } as object),
      // The SPIFFE identity is checked below, as HBONE's client does; there is no host name to match.
      checkServerIdentity: () => undefined,
    });
    up.setNoDelay(true);
    up.on('error', (err) => {
      report('upstream', err);
      resetStream(down);
    });
    up.once('secureConnect', () => {
      const peer = checkPeer(up, trust, peerOfA);
      if (!peer.ok) {
        report('peer', new Error(peer.reason));
        resetStream(down);
        up.destroy();
        return;
      }
      relay(down, up);
    });
  });
} else {
  server = tls.createServer(
    {
      // A tls.Server builds its context from these (it does not take `secureContext`).
      ...creds.tlsOptions(),
      requestCert: true,
      rejectUnauthorized: true,
      allowHalfOpen: true,
    },
    (down: TLSSocket) => {
      down.setNoDelay(true);
      down.on('error', ignore);
      const peer = checkPeer(down, trust);
      if (!peer.ok) {
        report('peer', new Error(peer.reason));
        down.destroy();
        return;
      }
      const up = net.connect({
        host: '127.0.0.1',
        port: Number(upstreamPort),
        noDelay: true,
        allowHalfOpen: true,
      });
      up.on('error', (err) => {
        report('upstream', err);
        resetStream(down);
      });
      up.once('connect', () => relay(down, up));
    },
  );
}

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
onStop(() => server.close());
