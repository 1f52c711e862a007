/**
 * PKCS#10 certificate signing requests: creating one (empty subject, SANs in an extensionRequest,
 * signed with the key's algorithm: ecdsa-with-SHA256 for P-256) and parsing + verifying one (EC, RSA,
 * Ed25519 keys), as the CA needs.
 */
import type { KeyObject } from 'node:crypto';
import { MeshError, errorMessage } from '../common/errors.js';
import { Tag, bitString, contextConstructed, oid, sequence, setOf, smallInteger, tlv } from './der-encode.js';
import { DerReader, decodeBitString, decodeOid, decodeSmallInteger, rawOf, readRoot } from './der-decode.js';
import { OID } from './oids.js';
import { pemToDer, toPem } from './pem.js';
import { signWith, verifySignature } from './sig-alg.js';
import { publicKeyFromSpki, spkiOf } from './spki.js';
import { decodeExtensions, decodeGeneralNames, subjectAltName, type Extension } from './x509-extensions.js';

export interface CsrOptions {
  privateKey: KeyObject;
  publicKey: KeyObject;
  uris: string[];
  dnsNames?: string[];
}

export interface ParsedCsr {
  publicKey: KeyObject;
  /** KeyObject.asymmetricKeyType: 'ec', 'rsa', 'ed25519', ... */
  keyType: string;
  /** For EC keys: OpenSSL's curve name, e.g. 'prime256v1'. */
  curve?: string;
  /** For RSA keys: the modulus length in bits. */
  rsaBits?: number;
  uris: string[];
  dnsNames: string[];
  /** How many SANs of other kinds (IP, email, otherName, ...) the CSR asks for. */
  otherSans: number;
  /** True if the CSR is signed by the key it carries, with an algorithm we know. */
  signatureValid: boolean;
  /** The signature algorithm OID. */
  signatureAlgorithm: string;
}

const EMPTY_NAME = sequence();
const VERSION_1 = smallInteger(0);

export function createCsr(opts: CsrOptions): string {
  const dnsNames = opts.dnsNames ?? [];
  const spki = spkiOf(opts.publicKey);
  const attributes: Buffer[] = [];
  if (opts.uris.length > 0 || dnsNames.length > 0) {
    // The subject is empty, so the SAN extension is critical (RFC 5280 4.2.1.6).
    const extensions = sequence(subjectAltName(opts.uris, dnsNames, true));
    attributes.push(sequence(oid(OID.extensionRequest), setOf(extensions)));
  }
  const info = sequence(VERSION_1, EMPTY_NAME, spki, tlv(contextConstructed(0), ...attributes));
  const { algorithm, signature } = signWith(opts.privateKey, info);
  return toPem('CERTIFICATE REQUEST', sequence(info, algorithm.algorithmIdentifier, bitString(signature)));
}

function bad(problem: string, cause?: unknown): MeshError {
  return new MeshError(
    'PKI_ERR_BAD_CSR',
    `bad certificate signing request: ${problem}`,
    cause ? { cause } : undefined,
  );
}

/** Extensions requested through the PKCS#9 extensionRequest attribute (at most one such attribute). */
function requestedExtensions(der: Buffer, attrs: DerReader): Extension[] {
  let found: Extension[] | undefined;
  while (!attrs.done) {
    const a = attrs.child(attrs.next('attribute', Tag.sequence), 'attribute');
    const type = decodeOid(der, a.next('type', Tag.oid));
    const values = a.child(a.next('values', Tag.set), 'values');
    a.end();
    if (type !== OID.extensionRequest) continue;
    if (found) throw bad('more than one extensionRequest attribute');
    const exts = values.next('extensions', Tag.sequence);
    values.end();
    found = decodeExtensions(der, exts, 'extensionRequest');
  }
  return found ?? [];
}

/**
 * Parses a PEM CSR, verifies its self-signature and reads the requested SANs. Malformed input throws
 * MeshError PKI_ERR_BAD_CSR saying what is wrong; a wrong signature is `signatureValid: false`.
 */
export function parseCsr(pem: string): ParsedCsr {
  let der: Buffer;
  try {
    der = pemToDer(pem, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], 'CSR');
  } catch (err) {
    throw bad(errorMessage(err), err);
  }
  let info: Buffer, spki: Buffer, sigAlg: string, signature: Buffer, exts: Extension[];
  try {
    const top = new DerReader(der, readRoot(der, 'CertificationRequest'), 'CertificationRequest');
    const infoT = top.next('certificationRequestInfo', Tag.sequence);
    const alg = top.child(top.next('signatureAlgorithm', Tag.sequence), 'signatureAlgorithm');
    sigAlg = decodeOid(der, alg.next('algorithm', Tag.oid));
    const sig = decodeBitString(der, top.next('signature', Tag.bitString));
    top.end();
    if (sig.unused !== 0) throw bad('the signature BIT STRING has unused bits');
    signature = sig.bytes;
    const cri = top.child(infoT, 'certificationRequestInfo');
    const version = decodeSmallInteger(der, cri.next('version', Tag.integer));
    if (version !== 0) throw bad(`version is ${version}, expected 0 (v1)`);
    cri.next('subject', Tag.sequence);
    spki = rawOf(der, cri.next('subjectPKInfo', Tag.sequence));
    const attrs = cri.child(cri.next('attributes', contextConstructed(0)), 'attributes');
    cri.end();
    exts = requestedExtensions(der, attrs);
    info = rawOf(der, infoT);
  } catch (err) {
    if (err instanceof MeshError && err.code === 'PKI_ERR_BAD_CSR') throw err;
    throw bad(errorMessage(err), err);
  }
  let publicKey: KeyObject;
  try {
    publicKey = publicKeyFromSpki(spki);
  } catch (err) {
    throw bad(`the public key cannot be read: ${errorMessage(err)}`, err);
  }
  const san = exts.find((e) => e.oid === OID.subjectAltName);
  let names = { uris: [] as string[], dnsNames: [] as string[], other: 0 };
  if (san) {
    try {
      names = decodeGeneralNames(san.value);
    } catch (err) {
      throw bad(`the subjectAltName extension is malformed: ${errorMessage(err)}`, err);
    }
  }
  const keyType = publicKey.asymmetricKeyType ?? 'unknown';
  const details = publicKey.asymmetricKeyDetails;
  const out: ParsedCsr = {
    publicKey,
    keyType,
    uris: names.uris,
    dnsNames: names.dnsNames,
    otherSans: names.other,
    signatureValid: verifySignature(sigAlg, info, publicKey, signature),
    signatureAlgorithm: sigAlg,
  };
  if (keyType === 'ec' && details?.namedCurve) out.curve = details.namedCurve;
  if (keyType === 'rsa' && details?.modulusLength) out.rsaBits = details.modulusLength;
  return out;
}
