/**
 * Proxy A of the two-hop tunnel (a child process): plain TCP in, HBONE out — the outbound half of the
 * mesh's L4 path. Every accepted connection becomes one CONNECT stream on the pooled HBONE connection
 * to proxy B.
 * Usage: proxy-a.js <pem dir> <proxy B port> <server port> [node|own]   (HTTP/2 implementation)
 */
import net, { type AddressInfo } from 'node:net';
import { HbonePool } from '../../src/hbone/pool.js';
import { relayFromStream, type RelayOutcome } from '../../src/hbone/relay.js';
import { forwardedFor } from '../../src/hbone/headers.js';
import { loadCredentials, spiffeOf } from './materials.js';
import { onStop } from './child.js';
import type { HboneImpl } from '../../src/hbone/settings.js';
import { tuneGcForDataPath } from '../../src/common/data-path-gc.js';

// As the mesh's proxies do at start (docs/runtime.md).
tuneGcForDataPath();

const [dir, bPort, serverPort, impl = 'node'] = process.argv.slice(2);
if (!dir || !bPort || !serverPort)
  throw new Error('usage: proxy-a.js <pem dir> <proxy B port> <server port>');
const source = loadCredentials(dir, 'a');
const expectedIdentities = [spiffeOf('b')];
const target = `127.0.0.1:${serverPort}`;
const pool = new HbonePool({ impl: impl as HboneImpl });
let failures = 0;

function onDone(o: RelayOutcome): void {
  if (o.status !== 200 && failures++ < 5)
    process.stderr.write(`proxy-a: tunnel ended with ${o.status}: ${o.error?.message}\n`);
}

const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
  sock.on('error', ignore);
  relayFromStream(
    sock,
    pool,
    {
      source,
      host: '127.0.0.1',
      port: Number(bPort),
      expectedIdentities,
      target,
      forwarded: forwardedFor(sock.remoteAddress ?? '127.0.0.1', sock.remotePort ?? 0),
    },
    onDone,
  );
});

function ignore(): void {}

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});
onStop(() => {
  server.close();
  pool.close();
});
