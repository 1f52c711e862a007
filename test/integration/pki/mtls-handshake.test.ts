/**
 * Issued workload certificates work for real mutual TLS 1.3 in node:tls: each side presents leaf +
 * intermediate, trusts only the root, and reads the peer's SPIFFE id from its certificate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type TLSSocket } from 'node:tls';
import {
  createIntermediateCa,
  createRootCa,
  issueWorkloadCertificate,
  type WorkloadCertificate,
} from '../../../src/pki/ca.js';
import { joinPem } from '../../../src/pki/pem.js';
import { spiffeIdOf, spiffeUri, type SpiffeId } from '../../../src/pki/spiffe.js';
import { verifyChain } from '../../../src/pki/verify.js';

const SERVER_ID = { trustDomain: 'cluster.local', namespace: 'bookinfo', serviceAccount: 'reviews' };
const CLIENT_ID = { trustDomain: 'cluster.local', namespace: 'bookinfo', serviceAccount: 'productpage' };

/** What a TLS endpoint presents: its leaf and the intermediates (not the root). */
function tlsCert(w: WorkloadCertificate): string {
  return joinPem(w.chainPem.slice(0, -1));
}

interface Outcome {
  serverSawClient?: SpiffeId;
  clientSawServer?: SpiffeId;
  protocol?: string | null;
  clientError?: string;
  /** The server's `tlsClientError`, if any. */
  serverError?: string;
  /** With rejectUnauthorized false: why node:tls would have refused the client. */
  authorizationError?: string;
  /** What the client read from the server (the server writes `hello` once it accepted the client). */
  received: string;
}

async function handshake(
  server: WorkloadCertificate,
  client: WorkloadCertificate,
  rootPem: string,
  rejectUnauthorized = true,
): Promise<Outcome> {
  const outcome: Outcome = { received: '' };
  const srv = createServer(
    {
      key: server.keyPem,
      cert: tlsCert(server),
      ca: rootPem,
      requestCert: true,
      rejectUnauthorized,
      minVersion: 'TLSv1.3',
    },
    (socket: TLSSocket) => {
      if (!socket.authorized) {
        // Only reached with rejectUnauthorized: false, where node:tls tells why the peer failed.
        outcome.authorizationError = String(socket.authorizationError);
        socket.destroy();
        return;
      }
      outcome.serverSawClient = spiffeIdOf(socket.getPeerCertificate());
      socket.end('hello');
    },
  );
  srv.on('tlsClientError', (err: Error) => (outcome.serverError = err.message));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as AddressInfo;
  try {
    const sock = connect({
      host: '127.0.0.1',
      port,
      key: client.keyPem,
      cert: tlsCert(client),
      ca: rootPem,
      minVersion: 'TLSv1.3',
      // Mesh peers are identified by SPIFFE id, not host name: check the id instead.
      checkServerIdentity: (_host, cert) => {
        const id = spiffeIdOf(cert);
        return id && spiffeUri(id) === spiffeUri(SERVER_ID)
          ? undefined
          : new Error(`unexpected server id ${JSON.stringify(id)}`);
      },
    });
    sock.setEncoding('utf8');
    sock.on('secureConnect', () => {
      outcome.protocol = sock.getProtocol();
      outcome.clientSawServer = spiffeIdOf(sock.getPeerCertificate());
    });
    sock.on('data', (d: string) => (outcome.received += d));
    sock.on('error', (err) => (outcome.clientError = err.message));
    await once(sock, 'close');
  } finally {
    srv.close();
    await once(srv, 'close');
  }
  return outcome;
}

test('mutual TLS 1.3 with workload certificates through an intermediate; both sides read SPIFFE ids', async () => {
  const root = createRootCa();
  const inter = createIntermediateCa(root);
  const server = issueWorkloadCertificate(inter, SERVER_ID);
  const client = issueWorkloadCertificate(inter, CLIENT_ID);
  assert.equal(verifyChain(client.chainPem, [root.rootPem]).ok, true);
  const out = await handshake(server, client, root.rootPem);
  assert.equal(out.clientError, undefined);
  assert.equal(out.serverError, undefined);
  assert.equal(out.received, 'hello');
  assert.equal(out.protocol, 'TLSv1.3');
  assert.deepEqual(out.serverSawClient, CLIENT_ID);
  assert.deepEqual(out.clientSawServer, SERVER_ID);
});

test('a client certificate from another CA is refused by the server', async () => {
  const root = createRootCa();
  const server = issueWorkloadCertificate(createIntermediateCa(root), SERVER_ID);
  const otherRoot = createRootCa();
  const intruder = issueWorkloadCertificate(createIntermediateCa(otherRoot), CLIENT_ID);
  const out = await handshake(server, intruder, root.rootPem);
  assert.equal(out.serverSawClient, undefined);
  assert.equal(out.received, '');
  assert.ok(out.serverError, 'the server drops the connection');
  const why = await handshake(server, intruder, root.rootPem, false);
  assert.equal(why.authorizationError, 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY');
});

test('an expired client certificate is refused by the server', async () => {
  const root = createRootCa({ notBefore: new Date(Date.now() - 48 * 3600_000) });
  const inter = createIntermediateCa(root, { notBefore: new Date(Date.now() - 48 * 3600_000) });
  const server = issueWorkloadCertificate(inter, SERVER_ID);
  const expired = issueWorkloadCertificate(inter, CLIENT_ID, {
    notBefore: new Date(Date.now() - 3 * 3600_000),
    validityMs: 3600_000,
  });
  const out = await handshake(server, expired, root.rootPem);
  assert.equal(out.serverSawClient, undefined);
  assert.equal(out.received, '');
  assert.ok(out.serverError, 'the server drops the connection');
  const why = await handshake(server, expired, root.rootPem, false);
  assert.equal(why.authorizationError, 'CERT_HAS_EXPIRED');
});
