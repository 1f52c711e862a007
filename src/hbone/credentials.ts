import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { spiffeIdOf, spiffeUri, type SpiffeId } from '../pki/spiffe.js';
import { HBONE_CIPHERS } from './settings.js';

/**
 * One identity's TLS material: private key, certificate chain (leaf first) and the trust bundle
 * (roots; during a CA rotation, old and new). Immutable: a renewal makes a new Credentials object,
 * so connections made with the old one are untouched while new ones pick up the new one.
 */
export class Credentials {
  readonly keyPem: string;
  readonly chainPem: readonly string[];
  readonly rootsPem: readonly string[];
  /** The SPIFFE identity of the leaf (undefined if the leaf has none). */
  readonly id: SpiffeId | undefined;
  /** `spiffe://...` of the leaf, or '' if it has none. */
  readonly uri: string;
  readonly notAfter: Date;
  private ctx: SecureContext | undefined;

  constructor(keyPem: string, chainPem: readonly string[], rootsPem: readonly string[]) {
    if (chainPem.length === 0) throw new TypeError('Credentials: the certificate chain is empty');
    this.keyPem = keyPem;
    this.chainPem = chainPem;
    this.rootsPem = rootsPem;
    const leaf = new X509Certificate(chainPem[0]!);
    this.id = spiffeIdOf(leaf);
    this.uri = this.id ? spiffeUri(this.id) : '';
    this.notAfter = new Date(leaf.validTo);
  }

  /** Key, chain, trust bundle and HBONE's TLS 1.3 settings, for a context or a `tls.Server` (which builds its own). */
  tlsOptions(): SecureContextOptions {
    return {
      key: this.keyPem,
      cert: this.chainPem.join('\n'),
      ca: [...this.rootsPem],
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ciphers: HBONE_CIPHERS,
    };
  }

  /** A TLS 1.3-only secure context (built once, reused by every connection with these credentials). */
  secureContext(): SecureContext {
    this.ctx ??= createSecureContext(this.tlsOptions());
    return this.ctx;
  }
}

/** Where a proxy gets the current credentials of an identity; renewals replace them. */
export interface CertSource {
  current(): Credentials;
  /** Called after the credentials change. Returns an unsubscribe function. */
  onChange(cb: (next: Credentials) => void): () => void;
}

/** A CertSource holding one value that can be replaced at any time. */
export class CertSlot implements CertSource {
  private value: Credentials;
  private readonly listeners = new Set<(next: Credentials) => void>();

  constructor(initial: Credentials) {
    this.value = initial;
  }

  current(): Credentials {
    return this.value;
  }

  set(next: Credentials): void {
    this.value = next;
    for (const cb of this.listeners) cb(next);
  }

  onChange(cb: (next: Credentials) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
}
