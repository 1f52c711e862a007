import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createHash, generateKeyPairSync } from 'node:crypto';
import { createRootCa, issueLeaf } from '../../../src/pki/ca.js';
import { forwardedClientCert } from '../../../src/l7/http/client-cert.js';

test("x-forwarded-client-cert carries the client certificate's hash, subject and SANs, as Envoy writes it", () => {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = issueLeaf(createRootCa(), {
    publicKey,
    commonName: 'client "one"',
    uris: ['spiffe://example.org/client'],
    dnsNames: ['client.example.org'],
    validityMs: 3600_000,
  });
  const cert = new X509Certificate(pem);
  const hash = createHash('sha256').update(cert.raw).digest('hex');
  assert.equal(
    forwardedClientCert(cert),
    `Hash=${hash};Subject="CN=client \\"one\\"";URI=spiffe://example.org/client;DNS=client.example.org`,
  );
});
