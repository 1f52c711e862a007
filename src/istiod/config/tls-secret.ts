/**
 * The certificate and key a TLS Secret holds, as an ingress gateway serves them: Kubernetes'
 * `kubernetes.io/tls` keys (`tls.crt`, `tls.key`) or Istio's generic ones (`cert`, `key`), from `data`
 * (base64) with `stringData` (plain) over it. Pure: parsing and checks, no I/O.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { errorMessage } from '../../common/errors.js';
import type { Secret } from './types-core.js';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/** A PEM certificate chain (leaf first) and its private key. */
export interface TlsPair {
  cert: string;
  key: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function isBase64(s: string): boolean {
  return s.length % 4 === 0 && BASE64.test(s);
}

/** The value of `key` in the Secret: `stringData` first, then decoded `data`. */
export function secretValue(s: Pick<Secret, 'data' | 'stringData'>, key: string): string | undefined {
  const plain = s.stringData?.[key];
  if (typeof plain === 'string') return plain;
  const b64 = s.data?.[key];
  return typeof b64 === 'string' ? Buffer.from(b64, 'base64').toString('utf8') : undefined;
}

/** Which pair of keys the Secret uses, or undefined when it has neither (not a TLS secret). */
export function tlsKeyNames(s: Pick<Secret, 'data' | 'stringData'>): [string, string] | undefined {
  const has = (k: string): boolean => secretValue(s, k) !== undefined;
  if (has('tls.crt') || has('tls.key')) return ['tls.crt', 'tls.key'];
  if (has('cert') || has('key')) return ['cert', 'key'];
  return undefined;
}

/**
 * The Secret's certificate and key, checked: both present, the chain and the key parse, and the key
 * belongs to the leaf. `error` names the key and what is wrong.
 */
export function tlsPairOf(s: Pick<Secret, 'data' | 'stringData'>): { pair?: TlsPair; error?: string } {
  const names = tlsKeyNames(s);
  if (!names) return { error: 'has no tls.crt and tls.key (nor cert and key)' };
  const [certName, keyName] = names;
  const cert = secretValue(s, certName);
  const key = secretValue(s, keyName);
  if (cert === undefined || cert.trim() === '') return { error: `${certName} is missing or empty` };
  if (key === undefined || key.trim() === '') return { error: `${keyName} is missing or empty` };
  const problem = checkPair(cert, key, certName, keyName);
  return problem ? { error: problem } : { pair: { cert, key } };
}

/** The PEM certificates in `pem`, each parsed; `error` names `what` and the one that does not parse. */
function parseCertificates(pem: string, what: string): { certs?: X509Certificate[]; error?: string } {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) return { error: `${what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` };
  const certs: X509Certificate[] = [];
  for (const [i, b] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(b));
    } catch (err) {
      return { error: `${what}: certificate ${i + 1} does not parse (${errorMessage(err)})` };
    }
  }
  return { certs };
}

function checkPair(cert: string, key: string, certName: string, keyName: string): string | undefined {
  const { certs, error } = parseCertificates(cert, certName);
  if (!certs) return error;
  let pk;
  try {
    pk = createPrivateKey(key);
  } catch (err) {
    return `${keyName} is not a PEM private key (${errorMessage(err)})`;
  }
  const leaf = certs[0]!;
  if (!leaf.checkPrivateKey(pk))
    return `${keyName} does not belong to the first certificate of ${certName} (subject ${leaf.subject.replace(/\n/g, ', ')})`;
  return undefined;
}

/** Istio's suffix for the Secret (and the credential) holding a CA bundle for client certificates. */
export const CA_SUFFIX = '-cacert';

/** The CA bundle a Secret holds (`ca.crt`, or Istio's generic `cacert`), checked to parse. */
export function caBundleOf(s: Pick<Secret, 'data' | 'stringData'>): { pem?: string; error?: string } {
  const key = secretValue(s, 'ca.crt') !== undefined ? 'ca.crt' : 'cacert';
  const pem = secretValue(s, key);
  if (pem === undefined || pem.trim() === '') return { error: 'has no ca.crt (nor cacert)' };
  const { error } = parseCertificates(pem, key);
  if (error) return { error };
  return { pem };
}

/**
 * The CA bundle for client certificates of the credential `name` in `ns`, as Istio finds it: the
 * Secret `<name>-cacert`, else `ca.crt` in the Secret `<name>` itself.
 */
export function clientCaFor(
  lookup: (ns: string, name: string) => Pick<Secret, 'data' | 'stringData'> | undefined,
  ns: string,
  name: string,
): { pem?: string; error?: string } {
  const separate = lookup(ns, `${name}${CA_SUFFIX}`);
  if (separate) return caBundleOf(separate);
  const same = lookup(ns, name);
  if (!same) return { error: `Secret ${ns}/${name} not found` };
  const r = caBundleOf(same);
  return r.pem ? r : { error: `neither Secret ${ns}/${name}${CA_SUFFIX} nor ca.crt in ${ns}/${name}` };
}
