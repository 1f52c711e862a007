/**
 * `x-forwarded-client-cert` for a client certificate verified at the edge, in Envoy's format:
 * `Hash=<sha256 of the DER, hex>;Subject="<subject>";URI=<uri SAN>;DNS=<dns SAN>` (the SANs repeated
 * per name). Built once per connection.
 */
import type { X509Certificate } from 'node:crypto';

export function forwardedClientCert(cert: X509Certificate): string {
  const parts = [`Hash=${cert.fingerprint256.replace(/:/g, '').toLowerCase()}`];
  // Node writes the subject with RFC 2253 escapes (a quote as \"), as the quoted value needs.
  const subject = cert.subject.split('\n').reverse().join(',');
  if (subject) parts.push(`Subject="${subject}"`);
  const sans = (cert.subjectAltName ?? '').split(', ');
  for (const san of sans) if (san.startsWith('URI:')) parts.push(`URI=${san.slice(4)}`);
  for (const san of sans) if (san.startsWith('DNS:')) parts.push(`DNS=${san.slice(4)}`);
  return parts.join(';');
}
