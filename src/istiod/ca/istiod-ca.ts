/**
 * istiod's certificate authority: a self-signed root kept in a directory (created on first start), or a
 * plugged-in CA from an Istio `cacerts` directory (intermediates work). It signs workload leaves (chain
 * leaf first, root last), holds the trust bundle (old and new roots during a rotation) and publishes it.
 */
import type { KeyObject } from 'node:crypto';
import { X509Certificate } from 'node:crypto';
import { MeshError } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import { DEFAULT_CA_VALIDITY_MS, createRootCa, issueLeaf, type CertificateAuthority } from '../../pki/ca.js';
import { joinPem } from '../../pki/pem.js';
import { spiffeUri, type SpiffeId } from '../../pki/spiffe.js';
import {
  loadCaDir,
  loadOrCreateSelfSigned,
  normalizeRoots,
  saveCaDir,
  writePublic,
  type LoadedCa,
} from './ca-storage.js';

export interface IstiodCaOptions {
  /** Trust domain of the identities this CA signs; default `cluster.local`. */
  trustDomain?: string;
  /** Self-signed mode: where the root is kept (created on first start). */
  dataDir?: string;
  /** Plugged-in mode: an Istio cacerts directory (ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem). */
  pluggedDir?: string;
  /** Self-signed root lifetime; default 10 years. */
  rootValidityMs?: number;
  logger?: Logger;
}

export type CaMode = 'self-signed' | 'plugged-in';

/** The `istio-ca-root-cert` ConfigMap Istio publishes in every namespace. */
export const ROOT_CONFIGMAP_NAME = 'istio-ca-root-cert';
export const ROOT_CONFIGMAP_KEY = 'root-cert.pem';

export class IstiodCa {
  readonly trustDomain: string;
  readonly mode: CaMode;
  private current: LoadedCa;
  private readonly opts: IstiodCaOptions;
  private readonly log: Logger;
  private readonly listeners = new Set<(roots: readonly string[]) => void>();

  private constructor(opts: IstiodCaOptions, mode: CaMode, loaded: LoadedCa) {
    this.opts = opts;
    this.trustDomain = opts.trustDomain ?? 'cluster.local';
    this.mode = mode;
    this.current = loaded;
    this.log = opts.logger ?? silentLogger();
  }

  /** Opens the CA: plugged-in if `pluggedDir` is given, else the self-signed root in `dataDir`. */
  static async open(opts: IstiodCaOptions): Promise<IstiodCa> {
    const log = opts.logger ?? silentLogger();
    if (opts.pluggedDir) {
      const ca = new IstiodCa(opts, 'plugged-in', await loadCaDir(opts.pluggedDir));
      log.info(
        { dir: opts.pluggedDir, subject: ca.authority.cert.subject, chain: ca.chainPem.length },
        'CA: using the plugged-in CA',
      );
      return ca;
    }
    if (!opts.dataDir) {
      throw new MeshError(
        'CA_ERR_CONFIG',
        'the CA needs a directory: dataDir (self-signed root) or pluggedDir (cacerts)',
      );
    }
    const { ca, created } = await loadOrCreateSelfSigned(opts.dataDir, {
      organization: opts.trustDomain ?? 'cluster.local',
      validityMs: opts.rootValidityMs,
    });
    log.info(
      { dir: opts.dataDir, created, notAfter: ca.authority.cert.validTo },
      created ? 'CA: created a self-signed root' : 'CA: loaded the self-signed root',
    );
    return new IstiodCa(opts, 'self-signed', ca);
  }

  /** An in-memory CA (tests, benchmarks): nothing on disk. */
  static fromAuthority(
    authority: CertificateAuthority,
    opts: { trustDomain?: string; extraRoots?: string[] } = {},
  ): IstiodCa {
    return new IstiodCa({ trustDomain: opts.trustDomain }, 'self-signed', {
      authority,
      roots: normalizeRoots(authority.rootPem, opts.extraRoots ?? []),
    });
  }

  get authority(): CertificateAuthority {
    return this.current.authority;
  }

  /** The signing CA's certificate up to its root (what follows a leaf in an issued chain). */
  get chainPem(): readonly string[] {
    return this.current.authority.chainPem;
  }

  /** The trust bundle: this CA's root first, then other roots still trusted (a rotation's overlap). */
  get rootsPem(): readonly string[] {
    return this.current.roots;
  }

  rootBundlePem(): string {
    return joinPem(this.current.roots);
  }

  /** Expiry of the root and of the signing certificate, for metrics. */
  expiry(): { root: Date; signing: Date } {
    return {
      root: new Date(new X509Certificate(this.current.authority.rootPem).validTo),
      signing: new Date(this.current.authority.cert.validTo),
    };
  }

  /** Signs a leaf for `id` (one URI SAN) with `publicKey`; returns the chain, leaf first, root last. */
  sign(publicKey: KeyObject, id: SpiffeId, validityMs: number): string[] {
    const leaf = issueLeaf(this.current.authority, { publicKey, uris: [spiffeUri(id)], validityMs });
    return [leaf, ...this.current.authority.chainPem];
  }

  /** Signs a serving certificate (DNS names and optional URIs), e.g. istiod's own for port 15012. */
  signServing(publicKey: KeyObject, dnsNames: string[], uris: string[], validityMs: number): string[] {
    const leaf = issueLeaf(this.current.authority, { publicKey, dnsNames, uris, validityMs });
    return [leaf, ...this.current.authority.chainPem];
  }

  /** Called with the new bundle after it changes (rotation, reload). Returns the unsubscribe function. */
  onRootsChange(cb: (roots: readonly string[]) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Writes the bundle to `path` (mode 0644, replaced atomically): local mode's published root. */
  async publishRoots(path: string): Promise<void> {
    await writePublic(path, this.rootBundlePem());
  }

  /** The data of the `istio-ca-root-cert` ConfigMap (Kubernetes mode). */
  rootConfigMapData(): Record<string, string> {
    return { [ROOT_CONFIGMAP_KEY]: this.rootBundlePem() };
  }

  /**
   * Self-signed mode: a new root signs from now on; the old roots stay in the bundle (overlap) until
   * `retireOldRoots()`. Saved to disk before it takes effect.
   */
  async rotateRoot(opts: { validityMs?: number } = {}): Promise<void> {
    if (this.mode !== 'self-signed') {
      throw new MeshError(
        'CA_ERR_ROTATE',
        'a plugged-in CA is rotated by replacing its cacerts files, then reload()',
      );
    }
    const authority = createRootCa({
      organization: this.trustDomain,
      commonName: 'Root CA',
      validityMs: opts.validityMs ?? this.opts.rootValidityMs ?? DEFAULT_CA_VALIDITY_MS,
    });
    const next = { authority, roots: normalizeRoots(authority.rootPem, this.current.roots) };
    if (this.opts.dataDir) await saveCaDir(this.opts.dataDir, next);
    this.current = next;
    this.log.info({ roots: next.roots.length }, 'CA: rotated to a new root; the old root is still trusted');
    this.emit();
  }

  /** Ends a rotation's overlap: only the current root stays in the bundle. */
  async retireOldRoots(): Promise<void> {
    const next = { authority: this.current.authority, roots: [this.current.authority.rootPem] };
    if (this.mode === 'self-signed' && this.opts.dataDir) await saveCaDir(this.opts.dataDir, next);
    this.current = next;
    this.emit();
  }

  /** Plugged-in mode: re-reads the cacerts directory (after an operator replaced the files). */
  async reload(): Promise<void> {
    if (!this.opts.pluggedDir) return;
    this.current = await loadCaDir(this.opts.pluggedDir);
    this.log.info({ roots: this.current.roots.length }, 'CA: reloaded the plugged-in CA');
    this.emit();
  }

  private emit(): void {
    for (const cb of this.listeners) cb(this.current.roots);
  }
}
