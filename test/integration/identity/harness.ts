import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CaService } from '../../../src/istiod/ca/ca-service.js';
import { IstiodCa } from '../../../src/istiod/ca/istiod-ca.js';
import { LocalTokenAuthenticator, addNodeToken } from '../../../src/istiod/ca/local-tokens.js';
import { NodeIdentities } from '../../../src/istiod/ca/node-identity-lookup.js';
import { IdentityCaClient } from '../../../src/identity/ca-client.js';
import type { SpiffeId } from '../../../src/pki/spiffe.js';

export const ZTUNNEL: SpiffeId = {
  trustDomain: 'cluster.local',
  namespace: 'istio-system',
  serviceAccount: 'ztunnel',
};

export function sid(namespace: string, serviceAccount: string): SpiffeId {
  return { trustDomain: 'cluster.local', namespace, serviceAccount };
}

/** istiod's CA on a loopback plaintext port, with node tokens and a node map; can be stopped and restarted. */
export class CaHarness {
  port = 0;
  server: grpc.Server | undefined;
  readonly nodes = new NodeIdentities();
  private constructor(
    readonly dir: string,
    readonly ca: IstiodCa,
    readonly service: CaService,
    private readonly tokenFile: string,
  ) {}

  static async start(opts: { defaultValidityMs?: number } = {}): Promise<CaHarness> {
    const dir = await mkdtemp(join(tmpdir(), 'ca-int-'));
    const ca = await IstiodCa.open({ dataDir: join(dir, 'ca') });
    const tokenFile = join(dir, 'node-tokens.json');
    await addNodeToken(tokenFile, { node: 'bootstrap', identity: ZTUNNEL });
    const auth = await LocalTokenAuthenticator.load(tokenFile);
    const h = new CaHarness(dir, ca, undefined as unknown as CaService, tokenFile);
    const service = new CaService({
      ca,
      nodes: h.nodes,
      authenticators: [auth],
      defaultValidityMs: opts.defaultValidityMs,
    });
    (h as { service: CaService }).service = service;
    await h.listen();
    return h;
  }

  async nodeToken(node: string): Promise<string> {
    return addNodeToken(this.tokenFile, { node, identity: ZTUNNEL });
  }

  client(
    token: string,
    extra: Partial<ConstructorParameters<typeof IdentityCaClient>[0]> = {},
  ): IdentityCaClient {
    return new IdentityCaClient({ address: `127.0.0.1:${this.port}`, token, ownIdentity: ZTUNNEL, ...extra });
  }

  async listen(): Promise<void> {
    const server = new grpc.Server();
    this.service.register(server);
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.port}`, grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.server = server;
  }

  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  async close(): Promise<void> {
    this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
