/**
 * An ingress gateway's TLS certificates from istiod: Envoy SDS `Secret` resources
 * (`kubernetes://<ns>/<secret>`) over delta xDS on istiod's mTLS port, the gateway presenting its own
 * mesh certificate (istiod serves a credential only to proxies of the Secret's namespace). The stream
 * subscribes to the names the gateway's configuration uses and is opened again when that set or the
 * gateway's own certificate changes. A credential that does not load is NACKed with the reason; the
 * last good one keeps serving.
 */
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { errorMessage } from '../common/errors.js';
import { coversHost } from '../common/hostname.js';
import type { Logger } from '../common/logger.js';
import type { CertSource, Credentials } from '../hbone/credentials.js';
import { caChannelCredentials } from '../identity/ca-client.js';
import { DeltaClient, type TypeWatch } from '../xds/delta-client.js';
import { formatNodeId } from '../xds/node-id.js';
import { SECRET_TYPE_URL } from '../xds/type-urls.js';

interface DataSource {
  inlineBytes?: Uint8Array;
  inlineString?: string;
  filename?: string;
}

interface SdsSecret {
  name?: string;
  tlsCertificate?: { certificateChain?: DataSource; privateKey?: DataSource };
  validationContext?: { trustedCa?: DataSource };
}

/** A loaded credential: what the TLS listener serves. */
export interface LoadedCredential {
  context: tls.SecureContext;
  /** The PEMs (a listener's default certificate, for clients that send no SNI, is set from them). */
  cert: string;
  key: string;
  /** The leaf's subject and expiry, for logs. */
  subject: string;
  notAfter: string;
}

const text = (d: DataSource | undefined): string | undefined =>
  d?.inlineString ?? (d?.inlineBytes ? Buffer.from(d.inlineBytes).toString('utf8') : undefined);

/**
 * Loads one SDS secret: a chain and a key that make a TLS context, or (`validation_context`) a CA
 * bundle for client certificates.
 */
export function loadCredential(s: SdsSecret): { credential?: LoadedCredential; ca?: string; error?: string } {
  if (s.validationContext) {
    const ca = text(s.validationContext.trustedCa);
    if (!ca) return { error: 'validation_context.trusted_ca: missing (inline PEM expected)' };
    try {
      tls.createSecureContext({ ca });
      return { ca };
    } catch (err) {
      return { error: `validation_context.trusted_ca: does not load (${errorMessage(err)})` };
    }
  }
  const cert = text(s.tlsCertificate?.certificateChain);
  const key = text(s.tlsCertificate?.privateKey);
  if (!cert) return { error: 'tls_certificate.certificate_chain: missing (inline PEM expected)' };
  if (!key) return { error: 'tls_certificate.private_key: missing (inline PEM expected)' };
  try {
    const context = tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    const leaf = new X509Certificate(cert);
    const subject = leaf.subject.replace(/\n/g, ', ');
    return { credential: { context, cert, key, subject, notAfter: leaf.validTo } };
  } catch (err) {
    return { error: `tls_certificate: does not load (${errorMessage(err)})` };
  }
}

export interface GatewayCredentialsOptions {
  /** istiod's mTLS xDS address (15012). */
  address: string;
  certs: CertSource;
  node: { name: string; namespace: string; podName: string; podIp: string };
  logger: Logger;
  /** Called after credentials arrive, change or go. */
  onChange: () => void;
}

export class GatewayCredentials {
  private readonly loaded = new Map<string, LoadedCredential>();
  private readonly cas = new Map<string, string>();
  private names: string[] = [];
  private client: DeltaClient | undefined;
  private closed = false;
  private readonly unwatch: () => void;

  constructor(private readonly o: GatewayCredentialsOptions) {
    this.unwatch = o.certs.onChange((c) => this.open(c));
  }

  /** The credential named `name`, once it has arrived. */
  get(name: string): LoadedCredential | undefined {
    return this.loaded.get(name);
  }

  /** The CA bundle (PEM) named `name`, once it has arrived. */
  ca(name: string): string | undefined {
    return this.cas.get(name);
  }

  /** Subscribes to exactly these credentials (the stream is opened again when the set changes). */
  want(names: Iterable<string>): void {
    const next = [...new Set(names)].sort();
    if (next.join('\n') === this.names.join('\n') && (this.client || next.length === 0)) return;
    this.names = next;
    let dropped = false;
    for (const n of [...this.loaded.keys(), ...this.cas.keys()])
      if (!next.includes(n)) dropped = this.loaded.delete(n) || this.cas.delete(n) || dropped;
    if (dropped) this.o.onChange();
    this.open(this.o.certs.current());
  }

  close(): void {
    this.closed = true;
    this.unwatch();
    this.client?.close();
    this.client = undefined;
  }

  private open(own: Credentials): void {
    if (this.closed) return;
    this.client?.close();
    this.client = undefined;
    if (this.names.length === 0) return;
    const names = this.names;
    const log = this.o.logger;
    // Each resource is loaded once: by the check, then applied from here.
    const checked = new WeakMap<SdsSecret, ReturnType<typeof loadCredential>>();
    const watch: TypeWatch<SdsSecret> = {
      typeUrl: SECRET_TYPE_URL,
      names,
      validate: (s) => {
        const r = loadCredential(s);
        checked.set(s, r);
        return r.error ? [r.error] : [];
      },
      onUpdate: (upserts, removals) => {
        for (const u of upserts) {
          const { credential, ca } = checked.get(u.value) ?? loadCredential(u.value);
          if (!names.includes(u.name)) continue;
          if (ca) {
            this.cas.set(u.name, ca);
            log.info({ credential: u.name }, 'gateway: client CA bundle loaded');
          }
          if (!credential) continue;
          this.loaded.set(u.name, credential);
          log.info(
            { credential: u.name, subject: credential.subject, notAfter: credential.notAfter },
            'gateway: certificate loaded',
          );
        }
        for (const r of removals)
          if (this.loaded.delete(r) || this.cas.delete(r))
            log.warn({ credential: r }, 'gateway: certificate withdrawn by istiod');
        this.o.onChange();
      },
    };
    const n = this.o.node;
    this.client = new DeltaClient({
      address: this.o.address,
      credentials: caChannelCredentials(own.rootsPem.join('\n'), {
        keyPem: own.keyPem,
        chainPem: own.chainPem.join('\n'),
      }),
      channelOptions: {
        'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
        'grpc.default_authority': 'istiod.istio-system.svc',
      },
      node: { id: formatNodeId('router', n.podIp, n.podName, n.namespace), cluster: n.name },
      watches: [watch as TypeWatch<unknown>],
      logger: log,
      onConnectionChange: (up) =>
        log.info({ address: this.o.address, connected: up }, 'gateway: credential stream to istiod'),
    });
    this.client.start();
  }
}

/** `host:15012` for an xDS address `host:port` (istiod's mTLS port beside its plaintext one). */
export function secureAddressOf(xdsAddress: string): string {
  const colon = xdsAddress.lastIndexOf(':');
  return `${colon >= 0 ? xdsAddress.slice(0, colon) : xdsAddress}:15012`;
}

/**
 * The certificate for a client's SNI: the first whose hostnames cover it, else the first without
 * hostnames, else the first.
 */
export function pickCertificate<T extends { hostnames: string[] }>(
  certs: T[],
  sni: string | undefined,
): T | undefined {
  if (sni) {
    const hit = certs.find((c) => c.hostnames.some((p) => p !== '*' && coversHost(p, sni)));
    if (hit) return hit;
  }
  return certs.find((c) => c.hostnames.length === 0) ?? certs[0];
}
