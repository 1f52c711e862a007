/**
 * Reads the fields of an X.509 certificate from its DER: what Node's X509Certificate does not expose
 * (raw names, exact validity dates, key identifiers, basicConstraints path length, keyUsage bits, the
 * list of critical extensions).
 */
import type { X509Certificate } from 'node:crypto';
import { MeshError } from '../common/errors.js';
import { Tag, contextConstructed } from './der-encode.js';
import {
  DerReader,
  decodeBitString,
  decodeOid,
  decodeSmallInteger,
  decodeTime,
  rawOf,
  readRoot,
  valueOf,
} from './der-decode.js';
import { OID } from './oids.js';
import {
  decodeAuthorityKeyIdentifier,
  decodeBasicConstraints,
  decodeExtensions,
  decodeGeneralNames,
  decodeKeyUsage,
  decodeSubjectKeyIdentifier,
  keyIdOfSpki,
  type Extension,
} from './x509-extensions.js';

export interface CertificateInfo {
  /** The signed part, as signed. */
  tbs: Buffer;
  serial: Buffer;
  /** Signature algorithm OID (outer). */
  signatureAlgorithm: string;
  signature: Buffer;
  /** Raw DER of the issuer and subject Names (compare bytes to link a chain). */
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  extensions: Extension[];
  /** basicConstraints cA (false when absent). */
  isCa: boolean;
  pathLen: number | undefined;
  /** keyUsage bits, or undefined when the extension is absent (any use allowed). */
  keyUsage: Set<number> | undefined;
  /** The subjectKeyIdentifier, or the RFC 5280 method-1 hash of the key if the extension is absent. */
  keyId: Buffer;
  authorityKeyId: Buffer | undefined;
  uris: string[];
  dnsNames: string[];
}

const cache = new WeakMap<X509Certificate, CertificateInfo>();

/** Parses a DER certificate; throws MeshError PKI_ERR_BAD_CERT with the location of the problem. */
export function parseCertificate(der: Buffer): CertificateInfo {
  try {
    return parse(der);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new MeshError('PKI_ERR_BAD_CERT', `malformed certificate: ${msg}`, { cause: err });
  }
}

/** The parsed fields of a Node X509Certificate, computed once per object. */
export function certificateInfo(cert: X509Certificate): CertificateInfo {
  let info = cache.get(cert);
  if (!info) {
    info = parseCertificate(cert.raw);
    cache.set(cert, info);
  }
  return info;
}

function parse(der: Buffer): CertificateInfo {
  const top = new DerReader(der, readRoot(der, 'Certificate'), 'Certificate');
  const tbsT = top.next('tbsCertificate', Tag.sequence);
  const outerAlg = top.child(top.next('signatureAlgorithm', Tag.sequence), 'signatureAlgorithm');
  const signatureAlgorithm = decodeOid(der, outerAlg.next('algorithm', Tag.oid));
  const sig = decodeBitString(der, top.next('signature', Tag.bitString));
  top.end();

  const t = top.child(tbsT, 'tbsCertificate');
  const verT = t.optional('version', contextConstructed(0));
  let version = 0;
  if (verT) {
    const v = t.child(verT, 'version');
    version = decodeSmallInteger(der, v.next('version', Tag.integer));
  }
  const serial = valueOf(der, t.next('serialNumber', Tag.integer));
  const innerAlg = t.child(t.next('signature', Tag.sequence), 'signature');
  if (decodeOid(der, innerAlg.next('algorithm', Tag.oid)) !== signatureAlgorithm) {
    throw new MeshError('PKI_ERR_DER', 'inner and outer signature algorithms differ');
  }
  const issuer = rawOf(der, t.next('issuer', Tag.sequence));
  const validity = t.child(t.next('validity', Tag.sequence), 'validity');
  const notBefore = decodeTime(der, validity.next('notBefore'));
  const notAfter = decodeTime(der, validity.next('notAfter'));
  validity.end();
  const subject = rawOf(der, t.next('subject', Tag.sequence));
  const spki = rawOf(der, t.next('subjectPublicKeyInfo', Tag.sequence));
  t.optional('issuerUniqueID', 0x81);
  t.optional('subjectUniqueID', 0x82);
  const extT = t.optional('extensions', contextConstructed(3));
  let extensions: Extension[] = [];
  if (extT) {
    if (version !== 2)
      throw new MeshError('PKI_ERR_DER', 'extensions present in a certificate that is not v3');
    const holder = t.child(extT, 'extensions');
    extensions = decodeExtensions(der, holder.next('Extensions', Tag.sequence), 'extensions');
    holder.end();
  }
  t.end();

  const ext = (dotted: string): Buffer | undefined => extensions.find((e) => e.oid === dotted)?.value;
  const bc = ext(OID.basicConstraints);
  const bcv = bc ? decodeBasicConstraints(bc) : { ca: false };
  const ku = ext(OID.keyUsage);
  const ski = ext(OID.subjectKeyIdentifier);
  const aki = ext(OID.authorityKeyIdentifier);
  const san = ext(OID.subjectAltName);
  const names = san ? decodeGeneralNames(san) : { uris: [], dnsNames: [] };
  return {
    tbs: rawOf(der, tbsT),
    serial,
    signatureAlgorithm,
    signature: sig.bytes,
    issuer,
    subject,
    notBefore,
    notAfter,
    spki,
    extensions,
    isCa: bcv.ca,
    pathLen: bcv.pathLen,
    keyUsage: ku ? decodeKeyUsage(ku) : undefined,
    keyId: ski ? decodeSubjectKeyIdentifier(ski) : keyIdOfSpki(spki),
    authorityKeyId: aki ? decodeAuthorityKeyIdentifier(aki) : undefined,
    uris: names.uris,
    dnsNames: names.dnsNames,
  };
}
