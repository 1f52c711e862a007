/**
 * `istio.v1.auth.IstioCertificateService/CreateCertificate`: authenticate the caller (bearer token, or
 * the mesh client certificate on the mTLS port), decide which identity it may hold, check the lifetime
 * and the CSR, then sign. Every refusal is a value with a gRPC status, counted and logged; nothing is
 * signed for it.
 */
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { errorMessage } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { silentLogger } from '../../common/logger.js';
import { Registry } from '../../common/metrics.js';
import { DEFAULT_WORKLOAD_VALIDITY_MS } from '../../pki/ca.js';
import { spiffeIdOf, spiffeUri, type SpiffeId } from '../../pki/spiffe.js';
import type { IstioCertificateRequest, IstioCertificateResponse } from '../../xds/discovery-types.js';
import { caServiceDefinition } from '../../xds/grpc-services.js';
import { authorizeIdentity } from './authorize.js';
import { refuse, unauthenticated, type CaRefusal } from './ca-denial.js';
import { CaMetrics } from './ca-metrics.js';
import { checkCsr, checkValidity } from './csr-check.js';
import type { IstiodCa } from './istiod-ca.js';
import type { NodeIdentityLookup } from './node-identity-lookup.js';
import type { AuthnResult, Caller, TokenAuthenticator } from './token-authenticator.js';

export const MAX_VALIDITY_MS = 90 * 24 * 3600 * 1000;
export const IMPERSONATED_IDENTITY = 'ImpersonatedIdentity';

export interface CaServiceOptions {
  ca: IstiodCa;
  /** Bearer-token checks, tried in order (local node tokens, Kubernetes TokenReview). */
  authenticators: TokenAuthenticator[];
  /** Which identities have pods on which node (from the ambient index). */
  nodes: NodeIdentityLookup;
  /** Accounts allowed to impersonate workloads on their node; default ztunnel's (`istio-system/ztunnel`). */
  trustedNodeAccounts?: Array<SpiffeId | string>;
  /** Default lifetime when the request asks for none; default 24 h. */
  defaultValidityMs?: number;
  /** Longest lifetime granted; default and upper bound 90 days. */
  maxValidityMs?: number;
  logger?: Logger;
  registry?: Registry;
}

/** What a caller presented: gRPC metadata and, on the mTLS port, its verified certificate. */
export interface CaCallContext {
  metadata: grpc.Metadata;
  peerCertificate?: PeerCertificate;
}

export type SignResult = { ok: true; certChain: string[]; id: SpiffeId; caller: Caller } | CaRefusal;

function bearer(md: grpc.Metadata): string | undefined {
  const v = md.get('authorization')[0];
  if (typeof v !== 'string') return undefined;
  const m = /^bearer\s+(.+)$/i.exec(v.trim());
  return m ? (m[1] as string).trim() : undefined;
}

function impersonatedOf(req: IstioCertificateRequest, md: grpc.Metadata): string | undefined {
  const fromStruct = req.metadata?.fields?.[IMPERSONATED_IDENTITY]?.stringValue;
  if (fromStruct) return fromStruct;
  const fromHeader = md.get(IMPERSONATED_IDENTITY.toLowerCase())[0];
  return typeof fromHeader === 'string' && fromHeader ? fromHeader : undefined;
}

export class CaService {
  readonly registry: Registry;
  private readonly opts: CaServiceOptions;
  private readonly log: Logger;
  private readonly metrics: CaMetrics;
  private readonly trusted: Set<string>;
  private readonly defaultMs: number;
  private readonly maxMs: number;

  constructor(opts: CaServiceOptions) {
    this.opts = opts;
    this.log = opts.logger ?? silentLogger();
    this.registry = opts.registry ?? new Registry();
    this.metrics = new CaMetrics(this.registry, opts.ca);
    const td = opts.ca.trustDomain;
    const accounts = opts.trustedNodeAccounts ?? [
      { trustDomain: td, namespace: 'istio-system', serviceAccount: 'ztunnel' },
    ];
    this.trusted = new Set(accounts.map((a) => (typeof a === 'string' ? a : spiffeUri(a))));
    this.maxMs = Math.min(opts.maxValidityMs ?? MAX_VALIDITY_MS, MAX_VALIDITY_MS);
    this.defaultMs = Math.min(opts.defaultValidityMs ?? DEFAULT_WORKLOAD_VALIDITY_MS, this.maxMs);
  }

  /** Adds CreateCertificate to `server` (call once per server: the plaintext 15010 and the mTLS 15012). */
  register(server: grpc.Server): void {
    server.addService(caServiceDefinition, {
      CreateCertificate: this.handle.bind(this) as grpc.handleUnaryCall<
        IstioCertificateRequest,
        IstioCertificateResponse
      >,
    });
  }

  private handle(
    call: grpc.ServerUnaryCall<IstioCertificateRequest, IstioCertificateResponse>,
    callback: grpc.sendUnaryData<IstioCertificateResponse>,
  ): void {
    const peerCertificate = call.getAuthContext?.()?.sslPeerCertificate;
    this.createCertificate(call.request, { metadata: call.metadata, peerCertificate }).then(
      (r) => {
        if (r.ok) callback(null, { certChain: r.certChain });
        else callback({ code: r.code, details: r.message });
      },
      (err: unknown) =>
        callback({ code: grpc.status.INTERNAL, details: `the CA failed: ${errorMessage(err)}` }),
    );
  }

  /** The whole decision and signing, without gRPC (the handler's body; also the in-process path). */
  async createCertificate(req: IstioCertificateRequest, ctx: CaCallContext): Promise<SignResult> {
    this.metrics.received();
    const result = await this.decideAndSign(req, ctx);
    if (result.ok) {
      this.metrics.issued();
      this.log.debug(
        { id: spiffeUri(result.id), caller: spiffeUri(result.caller.identity), node: result.caller.node },
        'CA: issued a certificate',
      );
    } else {
      this.metrics.refusedFor(result.reason);
      this.log.warn(
        { reason: result.reason, code: grpc.status[result.code] },
        `CA: refused a certificate request: ${result.message}`,
      );
    }
    return result;
  }

  private async decideAndSign(req: IstioCertificateRequest, ctx: CaCallContext): Promise<SignResult> {
    const authn = await this.authenticate(ctx);
    if (!authn.ok) return authn;
    const caller = authn.caller;
    const authz = authorizeIdentity(caller, impersonatedOf(req, ctx.metadata), {
      trustedNodeAccounts: this.trusted,
      nodes: this.opts.nodes,
    });
    if (!authz.ok) return authz;
    const validity = checkValidity(req.validityDuration, { defaultMs: this.defaultMs, maxMs: this.maxMs });
    if (!validity.ok) return validity;
    const csr = checkCsr(req.csr ?? '', authz.id, this.opts.ca.trustDomain);
    if (!csr.ok) return csr;
    try {
      const certChain = this.opts.ca.sign(csr.publicKey, csr.id, validity.ms);
      return { ok: true, certChain, id: csr.id, caller };
    } catch (err) {
      return refuse(grpc.status.INTERNAL, 'sign_failed', `signing failed: ${errorMessage(err)}`);
    }
  }

  private async authenticate(ctx: CaCallContext): Promise<AuthnResult> {
    const token = bearer(ctx.metadata);
    if (token !== undefined) {
      let last: AuthnResult = unauthenticated('unknown_token', 'the bearer token is not accepted');
      for (const a of this.opts.authenticators) {
        const r = await a.authenticate(token);
        if (r.ok) return r;
        if (last.ok || last.reason === 'unknown_token') last = r;
      }
      return last;
    }
    const cert = ctx.peerCertificate;
    if (cert) {
      const id = spiffeIdOf(cert);
      if (!id)
        return unauthenticated('bad_caller_identity', 'the client certificate has no single SPIFFE URI SAN');
      if (id.trustDomain !== this.opts.ca.trustDomain) {
        return unauthenticated(
          'bad_caller_identity',
          `the client certificate is for trust domain "${id.trustDomain}", not "${this.opts.ca.trustDomain}"`,
        );
      }
      return { ok: true, caller: { identity: id, via: 'certificate' } };
    }
    return unauthenticated(
      'no_token',
      'no credential: send "authorization: Bearer <token>" or call the mTLS port with a mesh certificate',
    );
  }
}
