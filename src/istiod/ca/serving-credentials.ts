/**
 * istiod's own certificate for the mTLS port (15012), issued by its CA and renewed at half-life, and
 * the grpc-js server credentials that present it. Client certificates are asked for but optional: a
 * node proxy without a certificate yet authenticates with its token; one with a mesh certificate is
 * identified by it (verified against the CA's trust bundle).
 */
import * as grpc from '@grpc/grpc-js';

type CertificateProvider = grpc.experimental.CertificateProvider;
type CaCertificateUpdateListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityCertificateUpdateListener = grpc.experimental.IdentityCertificateUpdateListener;
import { generateKeyPair, privateKeyPem } from '../../pki/keys.js';
import type { IstiodCa } from './istiod-ca.js';

export interface ServingCertOptions {
  /** DNS names istiod is reached by; default istiod.istio-system.svc and its short forms. */
  dnsNames?: string[];
  /** SPIFFE URI of istiod itself; default spiffe://<td>/ns/istio-system/sa/istiod. */
  uri?: string;
  /** Default 24 h. */
  validityMs?: number;
}

export class CaServingCertificate implements CertificateProvider {
  private readonly ca: IstiodCa;
  private readonly opts: Required<ServingCertOptions>;
  private readonly caListeners = new Set<CaCertificateUpdateListener>();
  private readonly idListeners = new Set<IdentityCertificateUpdateListener>();
  private identity!: { certificate: Buffer; privateKey: Buffer };
  private timer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;

  constructor(ca: IstiodCa, opts: ServingCertOptions = {}) {
    this.ca = ca;
    this.opts = {
      dnsNames: opts.dnsNames ?? ['istiod.istio-system.svc', 'istiod.istio-system', 'istiod'],
      uri: opts.uri ?? `spiffe://${ca.trustDomain}/ns/istio-system/sa/istiod`,
      validityMs: opts.validityMs ?? 24 * 3600 * 1000,
    };
    this.issue();
    this.unsubscribe = ca.onRootsChange(() => {
      this.issue();
      for (const l of this.caListeners) l(this.caUpdate());
    });
  }

  /** Server credentials for `server.bindAsync` presenting this certificate; client certificates optional. */
  serverCredentials(): grpc.ServerCredentials {
    return grpc.experimental.createCertificateProviderServerCredentials(this, this, false);
  }

  /** The PEM chain currently presented (leaf first). */
  get chainPem(): string {
    return this.identity.certificate.toString();
  }

  close(): void {
    clearTimeout(this.timer);
    this.unsubscribe();
  }

  addCaCertificateListener(l: CaCertificateUpdateListener): void {
    this.caListeners.add(l);
    // Delivered after the current call: grpc-js registers its own watcher right after adding listeners.
    queueMicrotask(() => this.caListeners.has(l) && l(this.caUpdate()));
  }
  removeCaCertificateListener(l: CaCertificateUpdateListener): void {
    this.caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdentityCertificateUpdateListener): void {
    this.idListeners.add(l);
    queueMicrotask(() => this.idListeners.has(l) && l(this.identity));
  }
  removeIdentityCertificateListener(l: IdentityCertificateUpdateListener): void {
    this.idListeners.delete(l);
  }

  private caUpdate(): { caCertificate: Buffer } {
    return { caCertificate: Buffer.from(this.ca.rootBundlePem()) };
  }

  private issue(): void {
    const { privateKey, publicKey } = generateKeyPair();
    const chain = this.ca.signServing(publicKey, this.opts.dnsNames, [this.opts.uri], this.opts.validityMs);
    // Present the chain without the root (peers have it).
    const presented = chain.length > 1 ? chain.slice(0, -1) : chain;
    this.identity = {
      certificate: Buffer.from(presented.join('')),
      privateKey: Buffer.from(privateKeyPem(privateKey)),
    };
    for (const l of this.idListeners) l(this.identity);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.issue(), Math.min(this.opts.validityMs / 2, 2 ** 31 - 1));
    this.timer.unref();
  }
}
