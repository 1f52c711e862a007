/**
 * Chain verification for a certificate chain (leaf first) against trusted roots: signatures, issuer
 * links (names and key identifiers), validity windows, CA flags, keyCertSign, path lengths, and no
 * unknown critical extension. The result is a value: `{ ok: false, reason }` says which certificate
 * failed and why.
 */
import { X509Certificate } from 'node:crypto';
import { errorMessage } from '../common/errors.js';
import { KeyUsageBit, OID } from './oids.js';
import { spiffeIdOf, type SpiffeId } from './spiffe.js';
import { certificateInfo, type CertificateInfo } from './x509-parse.js';

export type ChainResult =
  { ok: true; leaf: X509Certificate; id: SpiffeId | undefined } | { ok: false; reason: string };

const UNDERSTOOD = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
]);

interface Parsed {
  cert: X509Certificate;
  info: CertificateInfo;
}

function parseAll(pems: readonly string[], what: string): Parsed[] | string {
  const out: Parsed[] = [];
  for (let i = 0; i < pems.length; i++) {
    try {
      const cert = new X509Certificate(pems[i] as string);
      out.push({ cert, info: certificateInfo(cert) });
    } catch (err) {
      return `${what} ${i} cannot be parsed: ${errorMessage(err)}`;
    }
  }
  return out;
}

function label(i: number): string {
  return i === 0 ? 'certificate 0 (leaf)' : `certificate ${i}`;
}

function checkOne(p: Parsed, name: string, now: Date): string | undefined {
  if (now < p.info.notBefore) return `${name} is not valid before ${p.info.notBefore.toISOString()}`;
  if (now > p.info.notAfter) return `${name} expired at ${p.info.notAfter.toISOString()}`;
  const unknown = p.info.extensions.find((e) => e.critical && !UNDERSTOOD.has(e.oid));
  if (unknown) return `${name} has an unsupported critical extension ${unknown.oid}`;
  return undefined;
}

/** Checks that `issuer` may issue and did issue `child`; `below` = CA certificates between them and the leaf. */
function checkLink(
  child: Parsed,
  issuer: Parsed,
  childName: string,
  issuerName: string,
  below: number,
): string | undefined {
  if (!issuer.info.isCa)
    return `${issuerName} is not a CA (basicConstraints CA:TRUE missing) but issued ${childName}`;
  if (issuer.info.keyUsage && !issuer.info.keyUsage.has(KeyUsageBit.keyCertSign)) {
    return `${issuerName} lacks keyUsage keyCertSign`;
  }
  if (issuer.info.pathLen !== undefined && below > issuer.info.pathLen) {
    return `${issuerName} allows ${issuer.info.pathLen} CA certificate(s) below it, the chain has ${below}`;
  }
  if (!child.info.issuer.equals(issuer.info.subject) || !child.cert.checkIssued(issuer.cert)) {
    return `${childName} was not issued by ${issuerName} (issuer name or key identifier does not match)`;
  }
  if (!child.cert.verify(issuer.cert.publicKey)) {
    return `the signature on ${childName} does not verify with the key of ${issuerName}`;
  }
  return undefined;
}

export function verifyChain(chainPem: string[], rootsPem: string[], now: Date = new Date()): ChainResult {
  if (chainPem.length === 0) return { ok: false, reason: 'the chain is empty' };
  const chain = parseAll(chainPem, 'certificate');
  if (typeof chain === 'string') return { ok: false, reason: chain };
  const roots = parseAll(rootsPem, 'trusted root');
  if (typeof roots === 'string') return { ok: false, reason: roots };
  if (roots.length === 0) return { ok: false, reason: 'no trusted roots were given' };

  // The chain stops at the first certificate that is itself a trusted root; anything after is ignored.
  let anchoredAt = -1;
  for (let i = 0; i < chain.length && anchoredAt < 0; i++) {
    const raw = (chain[i] as Parsed).cert.raw;
    if (roots.some((r) => r.cert.raw.equals(raw))) anchoredAt = i;
  }
  const path = anchoredAt >= 0 ? chain.slice(0, anchoredAt + 1) : chain;

  for (let i = 0; i < path.length; i++) {
    const bad = checkOne(path[i] as Parsed, label(i), now);
    if (bad) return { ok: false, reason: bad };
    if (i > 0) {
      const link = checkLink(
        path[i - 1] as Parsed,
        path[i] as Parsed,
        label(i - 1),
        label(i),
        Math.max(0, i - 1),
      );
      if (link) return { ok: false, reason: link };
    }
  }

  if (anchoredAt < 0) {
    const last = path[path.length - 1] as Parsed;
    const lastName = label(path.length - 1);
    const below = Math.max(0, path.length - 1);
    let reason = `${lastName} ("${last.cert.issuer}") was not issued by any trusted root`;
    if (last.info.issuer.equals(last.info.subject) && last.cert.verify(last.cert.publicKey)) {
      return { ok: false, reason: `${lastName} is a self-signed root that is not among the trusted roots` };
    }
    let anchored = false;
    for (let r = 0; r < roots.length && !anchored; r++) {
      const root = roots[r] as Parsed;
      if (!last.info.issuer.equals(root.info.subject)) continue;
      const problem =
        checkOne(root, `trusted root ${r}`, now) ??
        checkLink(last, root, lastName, `trusted root ${r}`, below);
      if (problem) reason = problem;
      else anchored = true;
    }
    if (!anchored) return { ok: false, reason };
  }

  const leaf = (chain[0] as Parsed).cert;
  return { ok: true, leaf, id: spiffeIdOf(leaf) };
}
