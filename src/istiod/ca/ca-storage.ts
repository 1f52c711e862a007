/**
 * The CA's key material on disk, in Istio's `cacerts` layout: ca-cert.pem, ca-key.pem, cert-chain.pem
 * (the CA certificate up to the root) and root-cert.pem (the trust bundle: every root workloads should
 * trust, more than one during a rotation).
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, stat, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MeshError, errorMessage } from '../../common/errors.js';
import { createRootCa, loadCa, type CertificateAuthority } from '../../pki/ca.js';
import { privateKeyPem } from '../../pki/keys.js';
import { joinPem, splitPemCerts } from '../../pki/pem.js';
import { writeSecretFile } from './local-tokens.js';

export const CA_FILES = {
  cert: 'ca-cert.pem',
  key: 'ca-key.pem',
  chain: 'cert-chain.pem',
  roots: 'root-cert.pem',
} as const;

export interface LoadedCa {
  authority: CertificateAuthority;
  /** Trusted roots, the CA's own root first. */
  roots: string[];
}

async function readText(dir: string, file: string): Promise<string> {
  try {
    return await readFile(join(dir, file), 'utf8');
  } catch (err) {
    throw new MeshError('CA_ERR_FILES', `cannot read ${join(dir, file)}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function sameCert(a: string, b: string): boolean {
  return new X509Certificate(a).raw.equals(new X509Certificate(b).raw);
}

/** The bundle with `own` first, duplicates and expired roots removed. */
export function normalizeRoots(own: string, others: readonly string[], now = new Date()): string[] {
  const out = [own];
  for (const r of others) {
    const cert = new X509Certificate(r);
    if (new Date(cert.validTo) <= now) continue;
    if (!out.some((o) => sameCert(o, r))) out.push(r);
  }
  return out;
}

/**
 * Loads a plugged-in CA (Istio's cacerts). cert-chain.pem may stop below the root; the root is then
 * taken from root-cert.pem. The chain's root must be in root-cert.pem.
 */
export async function loadCaDir(dir: string): Promise<LoadedCa> {
  const [certPem, keyPem, rootText] = await Promise.all([
    readText(dir, CA_FILES.cert),
    readText(dir, CA_FILES.key),
    readText(dir, CA_FILES.roots),
  ]);
  const chainText = (await exists(join(dir, CA_FILES.chain))) ? await readText(dir, CA_FILES.chain) : certPem;
  const roots = splitPemCerts(rootText);
  if (roots.length === 0)
    throw new MeshError('CA_ERR_FILES', `${join(dir, CA_FILES.roots)} holds no certificate`);
  let chain = splitPemCerts(chainText);
  const last = new X509Certificate((chain[chain.length - 1] ?? certPem) as string);
  if (!(last.checkIssued(last) && last.verify(last.publicKey))) {
    const issuer = roots.find((r) => last.checkIssued(new X509Certificate(r)));
    if (!issuer) {
      throw new MeshError(
        'CA_ERR_FILES',
        `${join(dir, CA_FILES.chain)} ends with "${last.subject}", whose issuer is not in ${CA_FILES.roots}`,
      );
    }
    chain = [...chain, issuer];
  }
  let authority: CertificateAuthority;
  try {
    authority = loadCa(certPem, keyPem, chain);
  } catch (err) {
    throw new MeshError('CA_ERR_FILES', `the CA in ${dir} cannot be used: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const own = roots.find((r) => sameCert(r, authority.rootPem));
  if (!own) {
    throw new MeshError(
      'CA_ERR_FILES',
      `${join(dir, CA_FILES.roots)} does not hold the root of ${CA_FILES.chain}; add it`,
    );
  }
  return { authority, roots: normalizeRoots(authority.rootPem, roots) };
}

/** Writes a self-signed CA and its bundle into `dir` (key mode 0600), each file replaced atomically. */
export async function saveCaDir(dir: string, ca: LoadedCa): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeSecretFile(join(dir, CA_FILES.key), privateKeyPem(ca.authority.key));
  await writePublic(join(dir, CA_FILES.cert), ca.authority.certPem);
  await writePublic(join(dir, CA_FILES.chain), joinPem(ca.authority.chainPem));
  await writePublic(join(dir, CA_FILES.roots), joinPem(ca.roots));
}

/** Writes a public file atomically (mode 0644). */
export async function writePublic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, path);
}

/**
 * The self-signed root kept in `dir`: loaded if there, else created (10 years by default) and saved.
 * A key file readable by group or others is refused.
 */
export async function loadOrCreateSelfSigned(
  dir: string,
  opts: { organization: string; validityMs?: number },
): Promise<{ ca: LoadedCa; created: boolean }> {
  const keyPath = join(dir, CA_FILES.key);
  if (await exists(keyPath)) {
    const st = await stat(keyPath);
    if ((st.mode & 0o077) !== 0) {
      throw new MeshError(
        'CA_ERR_KEY_MODE',
        `${keyPath} has mode ${(st.mode & 0o777).toString(8)}; the CA key must be 600 (chmod 600 ${keyPath})`,
      );
    }
    return { ca: await loadCaDir(dir), created: false };
  }
  const authority = createRootCa({
    organization: opts.organization,
    commonName: 'Root CA',
    validityMs: opts.validityMs,
  });
  const ca = { authority, roots: [authority.rootPem] };
  await saveCaDir(dir, ca);
  return { ca, created: true };
}
