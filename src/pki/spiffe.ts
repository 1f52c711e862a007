/**
 * SPIFFE identities in Istio's form, `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
 * and reading them from certificates.
 */
import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';

export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

// SPIFFE ID spec: trust domain = lowercase letters, digits, '.', '-', '_'; path segments = letters,
// digits, '.', '-', '_' (and never '.' or '..').
const TRUST_DOMAIN_RE = /^[a-z0-9._-]+$/;
const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;

function validSegment(s: string): boolean {
  return SEGMENT_RE.test(s) && s !== '.' && s !== '..';
}

export function spiffeUri(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/**
 * Parses the strict Istio form. Anything else (other paths, a port, a query, percent-escapes,
 * upper-case trust domain, empty or dot segments) gives undefined.
 */
export function parseSpiffeUri(uri: string): SpiffeId | undefined {
  if (!uri.startsWith('spiffe://')) return undefined;
  const parts = uri.slice('spiffe://'.length).split('/');
  if (parts.length !== 5) return undefined;
  const [trustDomain = '', ns, namespace = '', sa, serviceAccount = ''] = parts;
  if (ns !== 'ns' || sa !== 'sa') return undefined;
  if (!TRUST_DOMAIN_RE.test(trustDomain) || trustDomain.length > 255) return undefined;
  if (!validSegment(namespace) || !validSegment(serviceAccount)) return undefined;
  return { trustDomain, namespace, serviceAccount };
}

/**
 * Splits Node's subject-alt-name text (`DNS:a, URI:spiffe://...`) into [type, value] pairs. Node
 * writes a value that contains special characters (comma, quote, backslash, non-ASCII, ...) as a JSON
 * string literal (`URI:"spiffe://x/a,b"`), so a crafted name cannot smuggle in a second entry; this
 * respects that quoting.
 */
export function parseSubjectAltNames(text: string): Array<[type: string, value: string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  while (i < text.length) {
    let entry = '';
    let quotedStart = -1;
    while (i < text.length) {
      const c = text[i] as string;
      if (c === '"') {
        // Consume a JSON string literal.
        quotedStart = entry.length;
        let j = i + 1;
        while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
        entry += text.slice(i, j + 1);
        i = j + 1;
        continue;
      }
      if (c === ',' && text[i + 1] === ' ') {
        i += 2;
        break;
      }
      entry += c;
      i++;
    }
    const colon = entry.indexOf(':');
    if (colon < 0) continue;
    const type = entry.slice(0, colon);
    let value = entry.slice(colon + 1);
    if (quotedStart === colon + 1 && value.startsWith('"') && value.endsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        // Leave the raw text; it will not parse as a SPIFFE id anyway.
      }
    }
    out.push([type, value]);
  }
  return out;
}

function altNameText(cert: X509Certificate | PeerCertificate): string | undefined {
  if ('subjectAltName' in cert) return cert.subjectAltName;
  return (cert as PeerCertificate).subjectaltname;
}

/** The URI subject alternative names of a certificate (Node's X509Certificate or a TLS peer cert). */
export function uriSans(cert: X509Certificate | PeerCertificate): string[] {
  const text = altNameText(cert);
  if (!text) return [];
  const out: string[] = [];
  for (const [type, value] of parseSubjectAltNames(text)) if (type === 'URI') out.push(value);
  return out;
}

/**
 * The certificate's SPIFFE id: there must be exactly one URI SAN with the `spiffe:` scheme and it must
 * be in the strict form; otherwise undefined (two SPIFFE URIs are ambiguous, so neither is trusted).
 */
export function spiffeIdOf(cert: X509Certificate | PeerCertificate): SpiffeId | undefined {
  const spiffe = uriSans(cert).filter((u) => u.toLowerCase().startsWith('spiffe:'));
  if (spiffe.length !== 1) return undefined;
  return parseSpiffeUri(spiffe[0] as string);
}
