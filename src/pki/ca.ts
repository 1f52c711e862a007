/**
 * Certificate authorities: a self-signed root, intermediates under it, a plugged-in CA loaded from
 * files (Istio's `cacerts` layout), and issuing leaf certificates. DER is built by our own encoder and
 * signed natively by node:crypto (see docs/pki.md for why, with measurements).
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { MeshError } from '../common/errors.js';
import { generateKeyPair, loadPrivateKey, privateKeyPem } from './keys.js';
import { KeyUsageBit, OID } from './oids.js';
import { splitPemCerts, toPem } from './pem.js';
import { spiffeUri, type SpiffeId } from './spiffe.js';
import { spkiOf } from './spki.js';
import { verifyChain } from './verify.js';
import { buildCertificate } from './x509-build.js';
import {
  authorityKeyIdentifier,
  basicConstraints,
  encodeName,
  extKeyUsage,
  isEmptyName,
  keyIdOfSpki,
  keyUsage,
  subjectAltName,
  subjectKeyIdentifier,
} from './x509-extensions.js';
import { certificateInfo } from './x509-parse.js';

export interface CertificateAuthority {
  key: KeyObject;
  certPem: string;
  cert: X509Certificate;
  /** This CA's certificate, then its issuers up to and including the root. */
  chainPem: string[];
  /** The self-signed root at the top. */
  rootPem: string;
}

export interface CaOptions {
  commonName?: string;
  organization?: string;
  /** Default 10 years. An intermediate never outlives its parent. */
  validityMs?: number;
  /** Default now. */
  notBefore?: Date;
  /** Default a fresh EC P-256 key. */
  key?: KeyObject;
}

export interface IssueOptions {
  publicKey: KeyObject;
  uris?: string[];
  dnsNames?: string[];
  validityMs: number;
  notBefore?: Date;
  commonName?: string;
}

export interface WorkloadCertificate {
  key: KeyObject;
  keyPem: string;
  certPem: string;
  /** Leaf first, root last. */
  chainPem: string[];
  id: SpiffeId;
  notAfter: Date;
}

export const DEFAULT_CA_VALIDITY_MS = 10 * 365 * 24 * 3600 * 1000;
export const DEFAULT_WORKLOAD_VALIDITY_MS = 24 * 3600 * 1000;

const CA_KEY_USAGE = keyUsage([KeyUsageBit.keyCertSign, KeyUsageBit.cRLSign]);
const LEAF_KEY_USAGE = keyUsage([KeyUsageBit.digitalSignature, KeyUsageBit.keyEncipherment]);
const LEAF_EKU = extKeyUsage([OID.serverAuth, OID.clientAuth]);
const CA_BASIC = basicConstraints(true);
const LEAF_BASIC = basicConstraints(false);

function floorToSecond(d: Date): Date {
  return new Date(Math.floor(d.getTime() / 1000) * 1000);
}

/** notBefore and notAfter for a new certificate, never past the issuer's notAfter. */
function validityWindow(
  notBefore: Date | undefined,
  validityMs: number,
  issuerNotAfter?: Date,
): [Date, Date] {
  if (!Number.isFinite(validityMs) || validityMs < 1000) {
    throw new MeshError('PKI_ERR_BAD_VALIDITY', `validity must be at least one second, got ${validityMs} ms`);
  }
  const start = floorToSecond(notBefore ?? new Date());
  if (Number.isNaN(start.getTime()))
    throw new MeshError('PKI_ERR_BAD_VALIDITY', 'notBefore is not a valid date');
  let end = floorToSecond(new Date(start.getTime() + validityMs));
  if (issuerNotAfter && end > issuerNotAfter) end = issuerNotAfter;
  if (end <= start) {
    throw new MeshError(
      'PKI_ERR_CA_EXPIRED',
      `the issuing CA certificate expires at ${issuerNotAfter?.toISOString()}, before the requested notBefore ` +
        `${start.toISOString()}; rotate the CA`,
    );
  }
  return [start, end];
}

function makeCa(
  opts: CaOptions,
  parent: CertificateAuthority | undefined,
  defaultCn: string,
): CertificateAuthority {
  const key = opts.key ?? generateKeyPair().privateKey;
  if (key.type !== 'private') throw new MeshError('PKI_ERR_BAD_KEY', 'a CA needs a private key');
  const spki = spkiOf(key);
  const subject = encodeName({
    organization: opts.organization ?? 'cluster.local',
    commonName: opts.commonName ?? defaultCn,
  });
  const parentInfo = parent ? certificateInfo(parent.cert) : undefined;
  const [notBefore, notAfter] = validityWindow(
    opts.notBefore,
    opts.validityMs ?? DEFAULT_CA_VALIDITY_MS,
    parentInfo?.notAfter,
  );
  const extensions = [CA_BASIC, CA_KEY_USAGE, subjectKeyIdentifier(keyIdOfSpki(spki))];
  if (parentInfo) extensions.push(authorityKeyIdentifier(parentInfo.keyId));
  const der = buildCertificate(
    { issuer: parentInfo?.subject ?? subject, subject, notBefore, notAfter, spki, extensions },
    parent?.key ?? key,
  );
  const certPem = toPem('CERTIFICATE', der);
  return {
    key,
    certPem,
    cert: new X509Certificate(der),
    chainPem: parent ? [certPem, ...parent.chainPem] : [certPem],
    rootPem: parent ? parent.rootPem : certPem,
  };
}

/** A self-signed root CA (default: O=cluster.local, CN=Root CA, 10 years, fresh P-256 key). */
export function createRootCa(opts: CaOptions = {}): CertificateAuthority {
  return makeCa(opts, undefined, 'Root CA');
}

/** An intermediate CA signed by `parent` (default CN=Intermediate CA); it never outlives the parent. */
export function createIntermediateCa(
  parent: CertificateAuthority,
  opts: CaOptions = {},
): CertificateAuthority {
  return makeCa(opts, parent, 'Intermediate CA');
}

/**
 * A plugged-in CA: its certificate, its private key, and the chain above it (Istio's `cacerts`:
 * ca-cert.pem, ca-key.pem, cert-chain.pem). `chainPem` may hold PEM bundles; the CA's own certificate
 * is added in front if missing. The chain must end at a self-signed root, link correctly, be within
 * its validity, and the key must match the certificate.
 */
export function loadCa(certPem: string, keyPem: string, chainPem: string[]): CertificateAuthority {
  const certs = splitPemCerts(certPem);
  if (certs.length !== 1) {
    throw new MeshError(
      'PKI_ERR_BAD_CA',
      `the CA certificate file must hold exactly one certificate, found ${certs.length}`,
    );
  }
  const own = certs[0] as string;
  const cert = new X509Certificate(own);
  const key = loadPrivateKey(keyPem, 'CA key');
  if (!cert.checkPrivateKey(key)) {
    throw new MeshError(
      'PKI_ERR_KEY_MISMATCH',
      'the CA key does not match the CA certificate; check ca-key.pem and ca-cert.pem',
    );
  }
  const info = certificateInfo(cert);
  if (!info.isCa || (info.keyUsage && !info.keyUsage.has(KeyUsageBit.keyCertSign))) {
    throw new MeshError(
      'PKI_ERR_NOT_CA',
      `${cert.subject || 'the certificate'} is not a CA (basicConstraints CA:TRUE and keyCertSign needed)`,
    );
  }
  let chain = splitPemCerts(chainPem);
  if (chain.length === 0 || !new X509Certificate(chain[0] as string).raw.equals(cert.raw))
    chain = [own, ...chain];
  const rootPem = chain[chain.length - 1] as string;
  const root = new X509Certificate(rootPem);
  if (!root.checkIssued(root) || !root.verify(root.publicKey)) {
    throw new MeshError(
      'PKI_ERR_BAD_CHAIN',
      `the CA chain ends with "${root.subject}", which is not a self-signed root; add the root to the chain`,
    );
  }
  const checked = verifyChain(chain, [rootPem]);
  if (!checked.ok)
    throw new MeshError('PKI_ERR_BAD_CHAIN', `the CA chain does not verify: ${checked.reason}`);
  return { key, certPem: own, cert, chainPem: chain, rootPem };
}

/**
 * Issues a leaf certificate (PEM) for `publicKey`: CA:FALSE, digitalSignature+keyEncipherment,
 * serverAuth+clientAuth, the URIs/DNS names as SANs (critical when there is no subject), and the CA's
 * key id. Its notAfter is capped at the CA's.
 */
export function issueLeaf(ca: CertificateAuthority, opts: IssueOptions): string {
  return toPem('CERTIFICATE', issueLeafDer(ca, opts).der);
}

function issueLeafDer(ca: CertificateAuthority, opts: IssueOptions): { der: Buffer; notAfter: Date } {
  if (opts.publicKey.type !== 'public') {
    throw new MeshError(
      'PKI_ERR_BAD_KEY',
      `issueLeaf needs the subject's public key, got a ${opts.publicKey.type} key`,
    );
  }
  const uris = opts.uris ?? [];
  const dnsNames = opts.dnsNames ?? [];
  const subject = encodeName({ commonName: opts.commonName });
  const emptySubject = isEmptyName(subject);
  if (emptySubject && uris.length === 0 && dnsNames.length === 0) {
    throw new MeshError(
      'PKI_ERR_BAD_NAME',
      'a leaf certificate needs at least one URI or DNS name, or a common name',
    );
  }
  const issuer = certificateInfo(ca.cert);
  const [notBefore, notAfter] = validityWindow(opts.notBefore, opts.validityMs, issuer.notAfter);
  const extensions = [LEAF_BASIC, LEAF_KEY_USAGE, LEAF_EKU];
  if (uris.length > 0 || dnsNames.length > 0) extensions.push(subjectAltName(uris, dnsNames, emptySubject));
  extensions.push(authorityKeyIdentifier(issuer.keyId));
  const spki = spkiOf(opts.publicKey);
  const der = buildCertificate(
    { issuer: issuer.subject, subject, notBefore, notAfter, spki, extensions },
    ca.key,
  );
  return { der, notAfter };
}

/** A fresh key and a certificate for `id` from `ca` (default 24 h). For tests and the demo. */
export function issueWorkloadCertificate(
  ca: CertificateAuthority,
  id: SpiffeId,
  opts: { validityMs?: number; notBefore?: Date } = {},
): WorkloadCertificate {
  const { privateKey, publicKey } = generateKeyPair();
  const { der, notAfter } = issueLeafDer(ca, {
    publicKey,
    uris: [spiffeUri(id)],
    validityMs: opts.validityMs ?? DEFAULT_WORKLOAD_VALIDITY_MS,
    notBefore: opts.notBefore,
  });
  const certPem = toPem('CERTIFICATE', der);
  return {
    key: privateKey,
    keyPem: privateKeyPem(privateKey),
    certPem,
    chainPem: [certPem, ...ca.chainPem],
    id,
    notAfter,
  };
}
