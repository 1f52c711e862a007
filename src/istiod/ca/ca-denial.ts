import { status } from '@grpc/grpc-js';

/** Why the CA refused a request: a metric label value (stable) and the gRPC status it maps to. */
export type CaRefusalReason =
  | 'no_token'
  | 'unknown_token'
  | 'expired_token'
  | 'token_review_failed'
  | 'bad_caller_identity'
  | 'malformed_csr'
  | 'csr_signature'
  | 'no_san'
  | 'multiple_sans'
  | 'non_spiffe_san'
  | 'san_mismatch'
  | 'trust_domain'
  | 'weak_key'
  | 'unsupported_key'
  | 'bad_validity'
  | 'validity_too_long'
  | 'bad_impersonation'
  | 'impersonation_not_allowed'
  | 'impersonation_needs_node'
  | 'not_on_node'
  | 'sign_failed';

/** A refusal as a value: the gRPC status, the reason label and a message that says what was wrong. */
export interface CaRefusal {
  ok: false;
  code: status;
  reason: CaRefusalReason;
  message: string;
}

export function refuse(code: status, reason: CaRefusalReason, message: string): CaRefusal {
  return { ok: false, code, reason, message };
}

export const unauthenticated = (reason: CaRefusalReason, message: string): CaRefusal =>
  refuse(status.UNAUTHENTICATED, reason, message);
export const invalidArgument = (reason: CaRefusalReason, message: string): CaRefusal =>
  refuse(status.INVALID_ARGUMENT, reason, message);
export const permissionDenied = (reason: CaRefusalReason, message: string): CaRefusal =>
  refuse(status.PERMISSION_DENIED, reason, message);
