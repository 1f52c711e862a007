/**
 * The processes around the waypoint (one per role, each its own child):
 *   echo:           the app: HTTP/1.1, `GET /bytes/N` answers N bytes (keep-alive).
 *   ztunnel-client: the client node's ztunnel: plain TCP in, one HBONE CONNECT per connection out
 *                   (the client workload's certificate, `forwarded` and `baggage` as ztunnel sends them).
 *   ztunnel-server: the server node's ztunnel: HBONE in on <ip>:15008, TCP out to the CONNECT target.
 * Usage: ends.js echo <ip> | ztunnel-client <pem dir> <hbone host> <expected role> <target ip:port>
 *        | ztunnel-server <pem dir> <ip>
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { CertSlot } from '../../src/hbone/credentials.js';
import { baggage, forwardedFor } from '../../src/hbone/headers.js';
import { HbonePool } from '../../src/hbone/pool.js';
import { relayFromStream, relayToTcp, type RelayOutcome } from '../../src/hbone/relay.js';
import { HboneServer } from '../../src/hbone/server.js';
import { HBONE_PORT } from '../../src/hbone/settings.js';
import { onStop } from '../hbone/child.js';
import { loadCredentials, spiffeOf, type Role } from './materials.js';

const [role, ...args] = process.argv.slice(2);
let failures = 0;

function onDone(o: RelayOutcome): void {
  if (o.status !== 200 && failures++ < 5)
    process.stderr.write(`${role}: tunnel ended with ${o.status}: ${o.error?.message}\n`);
}

function ignore(): void {}

if (role === 'echo') {
  const slab = Buffer.alloc(64 * 1024, 'x');
  const srv = http.createServer({ keepAliveTimeout: 3_600_000 }, (req, res) => {
    const n = Math.min(Number(/^\/bytes\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0), slab.length);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
    res.end(slab.subarray(0, n));
  });
  srv.listen(0, args[0], () => process.send?.({ type: 'ready', port: (srv.address() as AddressInfo).port }));
  onStop(() => srv.close());
} else if (role === 'ztunnel-client') {
  const [dir = '', host = '', expected = '', target = ''] = args;
  const source = loadCredentials(dir, 'client');
  const pool = new HbonePool();
  const bag = baggage({
    clusterName: 'Kubernetes',
    namespace: 'default',
    workloadName: 'curl',
    serviceName: 'curl',
    serviceVersion: 'v1',
  });
  const srv = net.createServer({ allowHalfOpen: true, noDelay: true }, (sock) => {
    sock.on('error', ignore);
    relayFromStream(
      sock,
      pool,
      {
        source,
        host,
        port: HBONE_PORT,
        expectedIdentities: [spiffeOf(expected as Role)],
        target,
        forwarded: forwardedFor(sock.remoteAddress ?? '127.0.0.1', sock.remotePort ?? 0),
        baggage: bag,
      },
      onDone,
    );
  });
  srv.listen(0, '127.0.0.1', () =>
    process.send?.({ type: 'ready', port: (srv.address() as AddressInfo).port }),
  );
  onStop(() => {
    srv.close();
    pool.close();
  });
} else if (role === 'ztunnel-server') {
  const [dir = '', ip = ''] = args;
  const server = new HboneServer({
    certs: new CertSlot(loadCredentials(dir, 'server')),
    onRequest: (req) => relayToTcp(req, onDone),
  });
  const { port } = await server.listen(HBONE_PORT, ip);
  process.send?.({ type: 'ready', port });
  onStop(() => void server.close());
} else {
  throw new Error(`bench/waypoint/ends: unknown role "${role}"`);
}
