/**
 * Kubernetes TokenReview (authentication.k8s.io/v1) as the CA's token check: the API server says whether
 * the bearer token is valid for the audience `istio-ca` and whose service account it is; bound tokens
 * also name the pod and (Kubernetes ≥ 1.30) the node in `user.extra`. Sent with @kubernetes/client-node's
 * AuthenticationV1Api, as istiod's own identity (the KubeConfig's credentials).
 */
import { createHash } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { AuthenticationV1Api } from '@kubernetes/client-node';
import { errorMessage } from '../../common/errors.js';
import { deadline, kubeError, requestOptions, type KubeConfig } from '../config/kube-client.js';
import { refuse, unauthenticated } from './ca-denial.js';
import type { AuthnResult, TokenAuthenticator } from './token-authenticator.js';

export const TOKEN_REVIEW_PATH = '/apis/authentication.k8s.io/v1/tokenreviews';
export const CA_AUDIENCE = 'istio-ca';
const EXTRA_NODE = 'authentication.kubernetes.io/node-name';
const EXTRA_POD = 'authentication.kubernetes.io/pod-name';

export interface TokenReviewOptions {
  /** Where the API server is and istiod's own credentials for it. */
  kubeConfig: KubeConfig;
  trustDomain: string;
  /** Audiences the token must be for; default ['istio-ca']. */
  audiences?: string[];
  /** When the token names a pod but no node: where that pod runs (e.g. from the ambient index). */
  nodeOfPod?: (namespace: string, pod: string) => string | undefined;
  /** How long a positive review is reused; default 60 s (0 = never). */
  cacheTtlMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; extra?: Record<string, string[]> };
}

const MAX_CACHE = 10_000;

export class KubeTokenReviewAuthenticator implements TokenAuthenticator {
  readonly name = 'token-review';
  private readonly opts: TokenReviewOptions;
  private readonly audiences: string[];
  private readonly cache = new Map<string, { until: number; result: AuthnResult }>();
  private readonly now: () => number;
  private readonly api: AuthenticationV1Api;

  constructor(opts: TokenReviewOptions) {
    this.opts = opts;
    this.api = opts.kubeConfig.makeApiClient(AuthenticationV1Api);
    this.audiences = opts.audiences ?? [CA_AUDIENCE];
    this.now = opts.now ?? Date.now;
  }

  async authenticate(token: string): Promise<AuthnResult> {
    const key = createHash('sha256').update(token).digest('base64');
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.result;
    let st: TokenReviewStatus;
    try {
      st = await this.review(token);
    } catch (err) {
      return refuse(
        status.UNAVAILABLE,
        'token_review_failed',
        `the Kubernetes TokenReview call failed: ${errorMessage(err)}`,
      );
    }
    const result = this.interpret(st);
    const ttl = this.opts.cacheTtlMs ?? 60_000;
    if (result.ok && ttl > 0) {
      if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, { until: this.now() + ttl, result });
    }
    return result;
  }

  private interpret(st: TokenReviewStatus): AuthnResult {
    if (!st.authenticated) {
      const why = st.error ? `: ${st.error}` : '';
      return unauthenticated(
        /expired/i.test(st.error ?? '') ? 'expired_token' : 'unknown_token',
        `the bearer token was not accepted by the Kubernetes API${why}`,
      );
    }
    if (st.audiences && !st.audiences.some((a) => this.audiences.includes(a))) {
      return unauthenticated(
        'unknown_token',
        `the token is for audience(s) ${st.audiences.join(', ')}, not ${this.audiences.join(', ')}`,
      );
    }
    const username = st.user?.username ?? '';
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
    if (!m) {
      return unauthenticated(
        'bad_caller_identity',
        `the token belongs to "${username}", not a service account`,
      );
    }
    const namespace = m[1] as string;
    const serviceAccount = m[2] as string;
    let node = st.user?.extra?.[EXTRA_NODE]?.[0];
    const pod = st.user?.extra?.[EXTRA_POD]?.[0];
    if (!node && pod && this.opts.nodeOfPod) node = this.opts.nodeOfPod(namespace, pod);
    const identity = { trustDomain: this.opts.trustDomain, namespace, serviceAccount };
    return { ok: true, caller: { identity, via: 'token-review', ...(node ? { node } : {}) } };
  }

  private async review(token: string): Promise<TokenReviewStatus> {
    const kc = this.opts.kubeConfig;
    try {
      const review = await this.api.createTokenReview(
        {
          body: {
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenReview',
            spec: { token, audiences: this.audiences },
          },
        },
        requestOptions(kc, deadline(this.opts.timeoutMs ?? 5000)),
      );
      return review.status ?? {};
    } catch (err) {
      throw kubeError(err, `POST ${TOKEN_REVIEW_PATH}`);
    }
  }
}
