import type { TLSSocket } from 'node:tls';
import { spiffeIdOf, spiffeUri, type SpiffeId } from '../pki/spiffe.js';

export type PeerCheck = { ok: true; id: SpiffeId; uri: string } | { ok: false; reason: string };

/**
 * Reads the SPIFFE identity of an authenticated TLS peer and checks it.
 * The chain itself was already verified by TLS against the trust bundle; here we check what TLS
 * does not: exactly one SPIFFE URI SAN, the trust domain, and (client side) that the identity is one
 * of those we expected to reach.
 */
export function checkPeer(
  socket: TLSSocket,
  trustDomains: ReadonlySet<string>,
  expected?: ReadonlySet<string>,
): PeerCheck {
  const cert = socket.getPeerX509Certificate();
  if (!cert) return { ok: false, reason: 'the peer presented no certificate' };
  const id = spiffeIdOf(cert);
  if (!id) {
    return {
      ok: false,
      reason: `the peer certificate has no single SPIFFE URI SAN of the form spiffe://<trust-domain>/ns/<ns>/sa/<sa> (subjectAltName: ${cert.subjectAltName ?? 'none'})`,
    };
  }
  const uri = spiffeUri(id);
  if (!trustDomains.has(id.trustDomain)) {
    return {
      ok: false,
      reason: `the peer identity ${uri} is in trust domain "${id.trustDomain}", not ${[...trustDomains].map((t) => `"${t}"`).join(' or ')}`,
    };
  }
  if (expected && expected.size > 0 && !expected.has(uri)) {
    return {
      ok: false,
      reason: `the peer identity ${uri} is not one of the expected identities: ${[...expected].join(', ')}`,
    };
  }
  return { ok: true, id, uri };
}
