/** Assembles and signs an X.509 v3 certificate from already-encoded parts. */
import { randomBytes, type KeyObject } from 'node:crypto';
import { bitString, explicit, sequence, smallInteger, time, unsignedInteger } from './der-encode.js';
import { signatureAlgorithmFor, signWith } from './sig-alg.js';

export interface CertificateParts {
  /** Encoded Names. */
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  /** The subject's SubjectPublicKeyInfo DER. */
  spki: Buffer;
  /** Encoded Extension SEQUENCEs, in order. */
  extensions: Buffer[];
  /** Defaults to a fresh random serial. */
  serial?: Buffer;
}

const V3 = explicit(0, smallInteger(2));

/** A random positive 16-byte serial (top bit clear so no sign byte is needed; second bit set so it stays 16 bytes). */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = ((b[0] as number) & 0x7f) | 0x40;
  return b;
}

/** Builds the TBSCertificate, signs it with `signer` and returns the certificate DER. */
export function buildCertificate(parts: CertificateParts, signer: KeyObject): Buffer {
  const alg = signatureAlgorithmFor(signer);
  const tbs = sequence(
    V3,
    unsignedInteger(parts.serial ?? randomSerial()),
    alg.algorithmIdentifier,
    parts.issuer,
    sequence(time(parts.notBefore), time(parts.notAfter)),
    parts.subject,
    parts.spki,
    explicit(3, sequence(...parts.extensions)),
  );
  const { signature } = signWith(signer, tbs);
  return sequence(tbs, alg.algorithmIdentifier, bitString(signature));
}
