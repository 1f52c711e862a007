/**
 * security.istio.io RequestAuthentication (JWT rules), with the exact field names of Istio's API.
 */
import type { ObjectMeta } from './types-core.js';
import type { PolicyTargetReference } from './types-mesh.js';

export interface JwtRuleSpec {
  issuer: string;
  audiences?: string[];
  jwksUri?: string;
  jwks?: string;
  fromHeaders?: { name: string; prefix?: string }[];
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: { header: string; claim: string }[];
  timeout?: string;
}

export interface RequestAuthentication {
  /** security.istio.io/v1 or v1beta1. */
  apiVersion: string;
  kind: 'RequestAuthentication';
  metadata: ObjectMeta;
  spec: {
    selector?: { matchLabels?: Record<string, string> };
    targetRef?: PolicyTargetReference;
    targetRefs?: PolicyTargetReference[];
    jwtRules?: JwtRuleSpec[];
  };
}
