/**
 * Proxy B of the two-hop tunnel (a child process): HBONE in, plain TCP out — the inbound half of the
 * mesh's L4 path. Each CONNECT is answered 200 once the TCP connection to its target is up.
 * Usage: proxy-b.js <pem dir> [node|own]   (the HTTP/2 implementation, default node)
 */
import { HboneServer } from '../../src/hbone/server.js';
import { CertSlot } from '../../src/hbone/credentials.js';
import { relayToTcp, type RelayOutcome } from '../../src/hbone/relay.js';
import { loadCredentials } from './materials.js';
import type { HboneImpl } from '../../src/hbone/settings.js';
import { onStop } from './child.js';
import { tuneGcForDataPath } from '../../src/common/data-path-gc.js';

// As the mesh's proxies do at start (docs/runtime.md).
tuneGcForDataPath();

const [dir, impl = 'node'] = process.argv.slice(2);
if (!dir) throw new Error('usage: proxy-b.js <pem dir> [node|own]');
let failures = 0;

function onDone(o: RelayOutcome): void {
  if (o.status !== 200 && failures++ < 5)
    process.stderr.write(`proxy-b: tunnel ended with ${o.status}: ${o.error?.message}\n`);
}

const server = new HboneServer({
  impl: impl as HboneImpl,
  certs: new CertSlot(loadCredentials(dir, 'b')),
  onRequest: (req) => relayToTcp(req, onDone),
});
const { port } = await server.listen(0, '127.0.0.1');
process.send?.({ type: 'ready', port });
onStop(() => void server.close());
