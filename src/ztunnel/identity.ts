import type { SpiffeId } from '../pki/spiffe.js';
import { spiffeUri } from '../pki/spiffe.js';
import { issueWorkloadCertificate, type CertificateAuthority } from '../pki/ca.js';
import { Credentials } from '../hbone/credentials.js';
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import { CertificateManager, IdentityCaClient } from '../identity/index.js';

/**
 * Where ztunnel gets the certificate of each identity it serves. In the mesh this is the certificate
 * manager talking to istiod's CA (src/identity/); without istiod, `LocalIdentities` signs with a CA
 * in this process.
 */
export interface IdentityProvider {
  /** The current credentials of `id` (fetched on first use, renewed before expiry). */
  get(id: SpiffeId): Promise<Credentials>;
  /** Start fetching ahead of the first connection. */
  prewarm(id: SpiffeId): void;
  /** No workload of this identity is left on the node. */
  forget(id: SpiffeId): void;
  /** For /config_dump: identity, state, expiry. */
  describe(): Array<{
    identity: string;
    state: string;
    notAfter?: string;
    notBefore?: string;
    serial?: string;
  }>;
  close(): void;
}

export class LocalIdentities implements IdentityProvider {
  private readonly ca: CertificateAuthority;
  private readonly cache = new Map<string, Credentials>();
  private readonly validityMs: number;

  constructor(ca: CertificateAuthority, validityMs = 24 * 3_600_000) {
    this.ca = ca;
    this.validityMs = validityMs;
  }

  get(id: SpiffeId): Promise<Credentials> {
    const uri = spiffeUri(id);
    let c = this.cache.get(uri);
    // Renew at half life, as the real manager does.
    if (!c || c.notAfter.getTime() - Date.now() < this.validityMs / 2) {
      const w = issueWorkloadCertificate(this.ca, id, { validityMs: this.validityMs });
      c = new Credentials(w.keyPem, w.chainPem.slice(0, -1), [this.ca.rootPem]);
      this.cache.set(uri, c);
    }
    return Promise.resolve(c);
  }

  prewarm(id: SpiffeId): void {
    void this.get(id);
  }

  forget(id: SpiffeId): void {
    this.cache.delete(spiffeUri(id));
  }

  describe(): Array<{ identity: string; state: string; notAfter?: string }> {
    return [...this.cache.entries()].map(([identity, c]) => ({
      identity,
      state: 'ready',
      notAfter: c.notAfter.toISOString(),
    }));
  }

  close(): void {
    this.cache.clear();
  }
}

/** The real thing: certificates from istiod's CA through the node proxy's certificate manager. */
export class CaIdentities implements IdentityProvider {
  readonly manager: CertificateManager;
  private readonly client: IdentityCaClient;

  constructor(opts: {
    address: string;
    tokenFile: string;
    ownIdentity: SpiffeId;
    clusterId: string;
    logger: Logger;
    registry?: Registry;
  }) {
    this.client = new IdentityCaClient({
      address: opts.address,
      tokenFile: opts.tokenFile || undefined,
      ownIdentity: opts.ownIdentity,
      clusterId: opts.clusterId,
    });
    this.manager = new CertificateManager({
      fetcher: this.client,
      logger: opts.logger,
      registry: opts.registry,
    });
  }

  get(id: SpiffeId): Promise<Credentials> {
    return this.manager.get(id);
  }

  prewarm(id: SpiffeId): void {
    this.manager.prewarm(id);
  }

  forget(id: SpiffeId): void {
    this.manager.forget(id);
  }

  describe(): Array<{ identity: string; state: string; notAfter?: string }> {
    return this.manager.status().map((s) => ({
      identity: s.uri,
      state: s.state,
      notAfter: s.notAfter?.toISOString(),
      notBefore: s.notBefore?.toISOString(),
      serial: s.serial,
      ...(s.lastError ? { lastError: s.lastError } : {}),
    }));
  }

  close(): void {
    this.manager.close();
    this.client.close();
  }
}
