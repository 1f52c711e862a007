/**
 * The pure checks of a CSR against the identity the caller may hold, and of the asked lifetime. Every
 * failure is a CaRefusal value with INVALID_ARGUMENT and a message that says what was wrong.
 */
import type { KeyObject } from 'node:crypto';
import { errorMessage } from '../../common/errors.js';
import { parseCsr } from '../../pki/csr.js';
import { parseSpiffeUri, spiffeUri, type SpiffeId } from '../../pki/spiffe.js';
import { invalidArgument, type CaRefusal } from './ca-denial.js';

export const MIN_RSA_BITS = 2048;
const EC_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);

export interface CheckedCsr {
  ok: true;
  publicKey: KeyObject;
  id: SpiffeId;
}

/** Key types the CA signs: EC P-256/P-384/P-521, RSA of at least 2048 bits, Ed25519. */
function checkKey(
  keyType: string,
  curve: string | undefined,
  rsaBits: number | undefined,
): CaRefusal | undefined {
  if (keyType === 'ec') {
    if (curve && EC_CURVES.has(curve)) return undefined;
    return invalidArgument(
      'unsupported_key',
      `the CSR's EC key uses curve ${curve ?? 'unknown'}; use P-256 (or P-384, P-521)`,
    );
  }
  if (keyType === 'rsa') {
    if ((rsaBits ?? 0) >= MIN_RSA_BITS) return undefined;
    return invalidArgument(
      'weak_key',
      `the CSR's RSA key has ${rsaBits ?? 0} bits; at least ${MIN_RSA_BITS} are required`,
    );
  }
  if (keyType === 'ed25519') return undefined;
  return invalidArgument(
    'unsupported_key',
    `the CSR's key type "${keyType}" is not signed here; use ECDSA P-256`,
  );
}

/**
 * Parses `csrPem` and checks that it is self-signed and asks for exactly one SAN, the SPIFFE URI of
 * `expected`, in `trustDomain`.
 */
export function checkCsr(csrPem: string, expected: SpiffeId, trustDomain: string): CheckedCsr | CaRefusal {
  if (!csrPem || csrPem.trim() === '')
    return invalidArgument('malformed_csr', 'the request has no CSR (field csr is empty)');
  let csr;
  try {
    csr = parseCsr(csrPem);
  } catch (err) {
    return invalidArgument('malformed_csr', `the CSR cannot be parsed: ${errorMessage(err)}`);
  }
  if (!csr.signatureValid) {
    return invalidArgument('csr_signature', 'the CSR signature does not verify with the key it carries');
  }
  const weak = checkKey(csr.keyType, csr.curve, csr.rsaBits);
  if (weak) return weak;
  const total = csr.uris.length + csr.dnsNames.length + csr.otherSans;
  if (total === 0) {
    return invalidArgument(
      'no_san',
      `the CSR has no subject alternative name; it must carry exactly one URI SAN, ${spiffeUri(expected)}`,
    );
  }
  if (total > 1) {
    const names = [...csr.uris, ...csr.dnsNames.map((d) => `DNS:${d}`)];
    return invalidArgument(
      'multiple_sans',
      `the CSR has ${total} subject alternative names (${names.join(', ')}${csr.otherSans ? `, ${csr.otherSans} other` : ''}); exactly one SPIFFE URI is allowed`,
    );
  }
  const uri = csr.uris[0];
  const id = uri === undefined ? undefined : parseSpiffeUri(uri);
  if (!id) {
    const what =
      uri !== undefined
        ? `URI "${uri}"`
        : csr.dnsNames.length
          ? `DNS name "${csr.dnsNames[0]}"`
          : 'a non-URI name';
    return invalidArgument(
      'non_spiffe_san',
      `the CSR's SAN is ${what}, not a SPIFFE id of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`,
    );
  }
  if (id.trustDomain !== trustDomain) {
    return invalidArgument(
      'trust_domain',
      `the CSR asks for trust domain "${id.trustDomain}"; this CA signs only for "${trustDomain}"`,
    );
  }
  if (
    id.namespace !== expected.namespace ||
    id.serviceAccount !== expected.serviceAccount ||
    id.trustDomain !== expected.trustDomain
  ) {
    return invalidArgument(
      'san_mismatch',
      `the CSR's SAN ${spiffeUri(id)} differs from the identity asked for, ${spiffeUri(expected)}`,
    );
  }
  return { ok: true, publicKey: csr.publicKey, id };
}

export interface LifetimePolicy {
  defaultMs: number;
  maxMs: number;
}

/** The lifetime to sign for: the asked `validitySeconds` (0/absent = default), refused past the cap. */
export function checkValidity(
  validitySeconds: number | undefined,
  policy: LifetimePolicy,
): { ok: true; ms: number } | CaRefusal {
  const s = validitySeconds ?? 0;
  if (!Number.isFinite(s) || s < 0 || !Number.isInteger(s)) {
    return invalidArgument(
      'bad_validity',
      `validity_duration ${s} is not a non-negative whole number of seconds`,
    );
  }
  if (s === 0) return { ok: true, ms: Math.min(policy.defaultMs, policy.maxMs) };
  const ms = s * 1000;
  if (ms > policy.maxMs) {
    return invalidArgument(
      'validity_too_long',
      `validity_duration ${s} s is over the maximum of ${Math.floor(policy.maxMs / 1000)} s`,
    );
  }
  return { ok: true, ms };
}
