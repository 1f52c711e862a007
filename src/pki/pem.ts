/** PEM helpers: wrap DER in PEM, find the blocks of a bundle, split a bundle into certificates. */
import { MeshError } from '../common/errors.js';

export interface PemBlock {
  /** The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`. */
  label: string;
  der: Buffer;
}

/** DER wrapped as PEM with 64-character lines and a trailing newline. */
export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < b64.length; i += 64) body += b64.slice(i, i + 64) + '\n';
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const BLOCK_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Every PEM block in `text`, in order. Text between blocks is ignored (bundles often carry comments);
 * a block whose END label differs from its BEGIN label, or whose body is not base64, is an error.
 * PEM headers (`Proc-Type:` etc., used by legacy encrypted keys) are not supported.
 */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK_RE)) {
    const [, label = '', body = '', endLabel] = m;
    if (label !== endLabel) {
      throw new MeshError('PKI_ERR_BAD_PEM', `PEM block BEGIN ${label} ends with END ${endLabel}`);
    }
    const b64 = body.replace(/\s+/g, '');
    if (!BASE64_RE.test(b64) || b64.length % 4 !== 0) {
      throw new MeshError('PKI_ERR_BAD_PEM', `PEM block ${label} does not hold valid base64`);
    }
    out.push({ label, der: Buffer.from(b64, 'base64') });
  }
  return out;
}

/** The DER of the single block labelled `label` (one of `labels`) in `text`; throws if there is not exactly one. */
export function pemToDer(text: string, labels: readonly string[], what: string): Buffer {
  const blocks = pemBlocks(text).filter((b) => labels.includes(b.label));
  if (blocks.length !== 1) {
    throw new MeshError(
      'PKI_ERR_BAD_PEM',
      `expected exactly one -----BEGIN ${labels[0]}----- block in the ${what}, found ${blocks.length}`,
    );
  }
  return (blocks[0] as PemBlock).der;
}

/**
 * Splits PEM text (a bundle or a list of bundles) into one normalized PEM string per certificate, in
 * order. Blocks of other types (keys) are skipped.
 */
export function splitPemCerts(pem: string | readonly string[]): string[] {
  const texts = typeof pem === 'string' ? [pem] : pem;
  const out: string[] = [];
  for (const text of texts) {
    for (const b of pemBlocks(text)) if (b.label === 'CERTIFICATE') out.push(toPem('CERTIFICATE', b.der));
  }
  return out;
}

/** Joins PEM strings into one bundle (e.g. for a TLS `cert` option: leaf then intermediates). */
export function joinPem(pems: readonly string[]): string {
  return pems.map((p) => (p.endsWith('\n') ? p : p + '\n')).join('');
}
