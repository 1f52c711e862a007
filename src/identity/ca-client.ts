/**
 * The node proxy's side of `CreateCertificate`: a fresh P-256 key and CSR per request, the bearer token
 * in `authorization`, and `ImpersonatedIdentity` (in the request metadata, as ztunnel sends it) when
 * asking for a workload's identity rather than its own. The returned chain is checked before use.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { MeshError } from '../common/errors.js';
import { createCsr } from '../pki/csr.js';
import { generateKeyPair, privateKeyPem } from '../pki/keys.js';
import { spiffeIdOf, spiffeUri, type SpiffeId } from '../pki/spiffe.js';
import type { IstioCertificateRequest, IstioCertificateResponse } from '../xds/discovery-types.js';
import { CaClient, caServiceDefinition } from '../xds/grpc-services.js';
import { CREATE_CERTIFICATE_PATH } from '../xds/type-urls.js';

const CREATE = caServiceDefinition.CreateCertificate;

/** A key and the chain the CA issued for it (leaf first, root last). */
export interface IssuedCertificate {
  keyPem: string;
  chainPem: string[];
}

/** Where the certificate manager gets certificates from (the CA client, or a stand-in in tests). */
export interface CertificateFetcher {
  fetch(id: SpiffeId): Promise<IssuedCertificate>;
}

export interface IdentityCaClientOptions {
  /** `host:port` of istiod's CA (15012 with TLS, or 15010 plaintext for bootstrap). */
  address: string;
  /** Default: plaintext. Use `caChannelCredentials()` for 15012. */
  credentials?: grpc.ChannelCredentials;
  /** The bearer token: a value, a function (re-evaluated per call) or a file (re-read per call). */
  token?: string | (() => string | Promise<string>);
  tokenFile?: string;
  /** The node proxy's own identity: requests for it carry no ImpersonatedIdentity. */
  ownIdentity?: SpiffeId;
  /** Sent as `clusterid` metadata (Istio's multi-cluster routing of CSRs). */
  clusterId?: string;
  /** Lifetime asked for in seconds; 0 = the CA's default. */
  validitySeconds?: number;
  /** Deadline per call; default 10 s. */
  timeoutMs?: number;
  channelOptions?: grpc.ChannelOptions;
}

/** TLS to istiod trusting `rootsPem`, checking the server certificate for `serverName` (default istiod.istio-system.svc). */
export function caChannelCredentials(
  rootsPem: string,
  client?: { keyPem: string; chainPem: string },
): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(
    Buffer.from(rootsPem),
    client ? Buffer.from(client.keyPem) : null,
    client ? Buffer.from(client.chainPem) : null,
  );
}

export class IdentityCaClient implements CertificateFetcher {
  private readonly opts: IdentityCaClientOptions;
  private readonly client: grpc.Client;

  constructor(opts: IdentityCaClientOptions) {
    this.opts = opts;
    this.client = new CaClient(opts.address, opts.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.ssl_target_name_override': 'istiod.istio-system.svc',
      'grpc.default_authority': 'istiod.istio-system.svc',
      ...opts.channelOptions,
    });
  }

  async fetch(id: SpiffeId): Promise<IssuedCertificate> {
    const { privateKey, publicKey } = generateKeyPair();
    const uri = spiffeUri(id);
    const csr = createCsr({ privateKey, publicKey, uris: [uri] });
    const req: IstioCertificateRequest = { csr, validityDuration: this.opts.validitySeconds ?? 0 };
    const own = this.opts.ownIdentity;
    if (!own || spiffeUri(own) !== uri) {
      req.metadata = { fields: { ImpersonatedIdentity: { stringValue: uri } } };
    }
    const md = new grpc.Metadata();
    const token = await this.token();
    if (token) md.set('authorization', `Bearer ${token}`);
    if (this.opts.clusterId) md.set('clusterid', this.opts.clusterId);
    const res = await this.call(req, md, uri);
    const chain = res.certChain ?? [];
    const leafPem = chain[0];
    if (!leafPem) throw new MeshError('CA_ERR_BAD_RESPONSE', `the CA returned an empty chain for ${uri}`);
    const leaf = new X509Certificate(leafPem);
    const got = spiffeIdOf(leaf);
    if (!got || spiffeUri(got) !== uri) {
      throw new MeshError(
        'CA_ERR_BAD_RESPONSE',
        `the CA returned a certificate for ${got ? spiffeUri(got) : 'no SPIFFE id'}, asked for ${uri}`,
      );
    }
    if (!leaf.checkPrivateKey(privateKey)) {
      throw new MeshError(
        'CA_ERR_BAD_RESPONSE',
        `the CA returned a certificate for another key (asked for ${uri})`,
      );
    }
    return { keyPem: privateKeyPem(privateKey), chainPem: chain };
  }

  close(): void {
    this.client.close();
  }

  private async token(): Promise<string | undefined> {
    if (this.opts.tokenFile) return (await readFile(this.opts.tokenFile, 'utf8')).trim();
    const t = this.opts.token;
    return typeof t === 'function' ? await t() : t;
  }

  private call(
    req: IstioCertificateRequest,
    md: grpc.Metadata,
    uri: string,
  ): Promise<IstioCertificateResponse> {
    const deadline = Date.now() + (this.opts.timeoutMs ?? 10_000);
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(
        CREATE_CERTIFICATE_PATH,
        CREATE.requestSerialize,
        CREATE.responseDeserialize,
        req,
        md,
        { deadline },
        (err: grpc.ServiceError | null, value?: IstioCertificateResponse) => {
          if (err) {
            reject(
              new MeshError(
                'CA_ERR_FETCH',
                `certificate request for ${uri} failed: ${grpc.status[err.code] ?? err.code}: ${err.details}`,
                {
                  cause: err,
                },
              ),
            );
          } else resolve(value ?? {});
        },
      );
    });
  }
}

/** The gRPC status code of a failed fetch, if it came from the CA call. */
export function fetchStatus(err: unknown): grpc.status | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'number' ? (cause.code as grpc.status) : undefined;
}
