import { IstiodCa } from '../../../src/istiod/ca/istiod-ca.js';
import type { CertificateFetcher, IssuedCertificate } from '../../../src/identity/ca-client.js';
import { createRootCa } from '../../../src/pki/ca.js';
import { generateKeyPair, privateKeyPem } from '../../../src/pki/keys.js';
import type { SpiffeId } from '../../../src/pki/spiffe.js';

export function sid(namespace: string, serviceAccount: string): SpiffeId {
  return { trustDomain: 'cluster.local', namespace, serviceAccount };
}

/** Signs in-process with a real CA; can be taken down, slowed, and counts its calls. */
export class InProcessFetcher implements CertificateFetcher {
  readonly ca: IstiodCa;
  down = false;
  delayMs = 0;
  validityMs: number;
  calls: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(opts: { validityMs?: number; ca?: IstiodCa } = {}) {
    this.ca = opts.ca ?? IstiodCa.fromAuthority(createRootCa());
    this.validityMs = opts.validityMs ?? 3600e3;
  }

  async fetch(id: SpiffeId): Promise<IssuedCertificate> {
    this.calls.push(`${id.namespace}/${id.serviceAccount}`);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.down) throw new Error('connect ECONNREFUSED (CA down)');
      const { privateKey, publicKey } = generateKeyPair();
      return { keyPem: privateKeyPem(privateKey), chainPem: this.ca.sign(publicKey, id, this.validityMs) };
    } finally {
      this.inFlight--;
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
