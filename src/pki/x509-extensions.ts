/**
 * Encoding and decoding of the X.509 pieces we use: names (O, CN), and the extensions basicConstraints,
 * keyUsage, extKeyUsage, subjectAltName, subjectKeyIdentifier and authorityKeyIdentifier.
 */
import { createHash } from 'node:crypto';
import { MeshError } from '../common/errors.js';
import {
  Tag,
  boolean,
  contextPrimitive,
  ia5String,
  namedBits,
  octetString,
  oid,
  sequence,
  setOf,
  smallInteger,
  tlv,
  utf8String,
} from './der-encode.js';
import {
  DerReader,
  decodeBitString,
  decodeBoolean,
  decodeOid,
  decodeSmallInteger,
  readRoot,
  valueOf,
  type Tlv,
} from './der-decode.js';
import { OID } from './oids.js';

export interface Extension {
  oid: string;
  critical: boolean;
  /** The extnValue contents (the DER of the extension's own structure). */
  value: Buffer;
}

export interface NameParts {
  organization?: string;
  commonName?: string;
}

/** A distinguished name with an optional O and an optional CN (in that order); empty if neither. */
export function encodeName(parts: NameParts): Buffer {
  const rdns: Buffer[] = [];
  if (parts.organization) rdns.push(setOf(sequence(oid(OID.organization), utf8String(parts.organization))));
  if (parts.commonName) rdns.push(setOf(sequence(oid(OID.commonName), utf8String(parts.commonName))));
  return sequence(...rdns);
}

/** True if the encoded Name has no RDNs. */
export function isEmptyName(name: Buffer): boolean {
  return name.length === 2 && name[0] === Tag.sequence && name[1] === 0;
}

export function encodeExtension(dotted: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? sequence(oid(dotted), boolean(true), octetString(value))
    : sequence(oid(dotted), octetString(value));
}

export function basicConstraints(ca: boolean, pathLen?: number): Buffer {
  if (!ca) return encodeExtension(OID.basicConstraints, true, sequence());
  const inner = pathLen === undefined ? [boolean(true)] : [boolean(true), smallInteger(pathLen)];
  return encodeExtension(OID.basicConstraints, true, sequence(...inner));
}

export function keyUsage(bits: readonly number[]): Buffer {
  return encodeExtension(OID.keyUsage, true, namedBits(bits));
}

export function extKeyUsage(purposes: readonly string[]): Buffer {
  return encodeExtension(OID.extKeyUsage, false, sequence(...purposes.map((p) => oid(p))));
}

/** The GeneralNames value: URIs as `[6]` and DNS names as `[2]` IA5Strings. */
export function generalNames(uris: readonly string[], dnsNames: readonly string[]): Buffer {
  const names: Buffer[] = [];
  for (const d of dnsNames) names.push(ia5String(d, contextPrimitive(2)));
  for (const u of uris) names.push(ia5String(u, contextPrimitive(6)));
  return sequence(...names);
}

export function subjectAltName(
  uris: readonly string[],
  dnsNames: readonly string[],
  critical: boolean,
): Buffer {
  return encodeExtension(OID.subjectAltName, critical, generalNames(uris, dnsNames));
}

export function subjectKeyIdentifier(keyId: Buffer): Buffer {
  return encodeExtension(OID.subjectKeyIdentifier, false, octetString(keyId));
}

export function authorityKeyIdentifier(keyId: Buffer): Buffer {
  return encodeExtension(OID.authorityKeyIdentifier, false, sequence(tlv(contextPrimitive(0), keyId)));
}

/** RFC 5280 key identifier method 1: SHA-1 of the subjectPublicKey bits of a SubjectPublicKeyInfo. */
export function keyIdOfSpki(spki: Buffer): Buffer {
  const root = readRoot(spki, 'SubjectPublicKeyInfo');
  const r = new DerReader(spki, root, 'SubjectPublicKeyInfo');
  r.next('algorithm', Tag.sequence);
  const { bytes } = decodeBitString(spki, r.next('subjectPublicKey', Tag.bitString));
  return createHash('sha1').update(bytes).digest();
}

/** Reads `Extensions ::= SEQUENCE OF Extension` (the element `t` is that SEQUENCE). */
export function decodeExtensions(buf: Buffer, t: Tlv, what: string): Extension[] {
  const out: Extension[] = [];
  const r = new DerReader(buf, t, what);
  while (!r.done) {
    const e = r.child(r.next('extension', Tag.sequence), 'extension');
    const dotted = decodeOid(buf, e.next('extnID', Tag.oid));
    const crit = e.optional('critical', Tag.boolean);
    const critical = crit ? decodeBoolean(buf, crit) : false;
    const value = valueOf(buf, e.next('extnValue', Tag.octetString));
    e.end();
    if (out.some((x) => x.oid === dotted)) {
      throw new MeshError('PKI_ERR_DER', `${what}: extension ${dotted} appears twice`);
    }
    out.push({ oid: dotted, critical, value });
  }
  return out;
}

export function decodeBasicConstraints(value: Buffer): { ca: boolean; pathLen?: number } {
  const r = new DerReader(value, readRoot(value, 'basicConstraints'), 'basicConstraints');
  const caT = r.optional('cA', Tag.boolean);
  const ca = caT ? decodeBoolean(value, caT) : false;
  const plT = r.optional('pathLenConstraint', Tag.integer);
  r.end();
  return plT ? { ca, pathLen: decodeSmallInteger(value, plT) } : { ca };
}

/** The keyUsage bits as a Set of bit numbers (see KeyUsageBit). */
export function decodeKeyUsage(value: Buffer): Set<number> {
  const { bytes } = decodeBitString(value, readRoot(value, 'keyUsage'));
  const bits = new Set<number>();
  for (let i = 0; i < bytes.length * 8; i++)
    if (((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) bits.add(i);
  return bits;
}

export function decodeExtKeyUsage(value: Buffer): string[] {
  const r = new DerReader(value, readRoot(value, 'extKeyUsage'), 'extKeyUsage');
  const out: string[] = [];
  while (!r.done) out.push(decodeOid(value, r.next('keyPurposeId', Tag.oid)));
  return out;
}

export interface DecodedNames {
  uris: string[];
  dnsNames: string[];
  /** Count of names of other kinds (IP, email, directory name, otherName, ...). */
  other: number;
}

export function decodeGeneralNames(value: Buffer): DecodedNames {
  const r = new DerReader(value, readRoot(value, 'subjectAltName'), 'subjectAltName');
  const out: DecodedNames = { uris: [], dnsNames: [], other: 0 };
  while (!r.done) {
    const n = r.next('generalName');
    if (n.tag === contextPrimitive(6)) out.uris.push(value.toString('latin1', n.valueStart, n.end));
    else if (n.tag === contextPrimitive(2)) out.dnsNames.push(value.toString('latin1', n.valueStart, n.end));
    else out.other++;
  }
  return out;
}

export function decodeSubjectKeyIdentifier(value: Buffer): Buffer {
  const t = readRoot(value, 'subjectKeyIdentifier');
  if (t.tag !== Tag.octetString)
    throw new MeshError('PKI_ERR_DER', 'subjectKeyIdentifier: expected an OCTET STRING');
  return valueOf(value, t);
}

export function decodeAuthorityKeyIdentifier(value: Buffer): Buffer | undefined {
  const r = new DerReader(value, readRoot(value, 'authorityKeyIdentifier'), 'authorityKeyIdentifier');
  const k = r.optional('keyIdentifier', contextPrimitive(0));
  return k ? valueOf(value, k) : undefined;
}
