/**
 * An L7 proxy's own certificate (waypoint, sidecar, ingress gateway): fetched from istiod's CA with
 * the proxy's bootstrap token, renewed by the certificate manager, closed with the proxy.
 */
import type { Registry } from 'prom-client';
import type { Logger } from '../common/logger.js';
import type { CertSource } from '../hbone/credentials.js';
import type { SpiffeId } from '../pki/spiffe.js';
import { IdentityCaClient } from './ca-client.js';
import { CertificateManager } from './certificate-manager.js';

export interface ProxyCaSettings {
  /** The CA's address; empty: the xDS address (istiod serves both). */
  caAddress: string;
  xdsAddress: string;
  /** The bootstrap token file; empty: none. */
  tokenFile: string;
  clusterId: string;
}

export class ProxyCertificates {
  private readonly client: IdentityCaClient;
  private readonly manager: CertificateManager;

  constructor(
    cfg: ProxyCaSettings,
    private readonly identity: SpiffeId,
    logger: Logger,
    registry: Registry,
  ) {
    this.client = new IdentityCaClient({
      address: cfg.caAddress || cfg.xdsAddress,
      tokenFile: cfg.tokenFile || undefined,
      ownIdentity: identity,
      clusterId: cfg.clusterId,
    });
    this.manager = new CertificateManager({ fetcher: this.client, logger, registry });
  }

  /** The proxy's certificates, ready to serve and present. */
  source(): Promise<CertSource> {
    return this.manager.source(this.identity);
  }

  close(): void {
    this.manager.close();
    this.client.close();
  }
}
