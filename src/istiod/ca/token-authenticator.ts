import type { SpiffeId } from '../../pki/spiffe.js';
import type { CaRefusal } from './ca-denial.js';

/** Who is calling the CA, as established by a token or a client certificate. */
export interface Caller {
  identity: SpiffeId;
  /** The node the caller runs on, when the credential says so (needed to impersonate). */
  node?: string;
  /** How the caller was identified, for logs. */
  via: 'local-token' | 'token-review' | 'certificate';
}

export type AuthnResult = { ok: true; caller: Caller } | CaRefusal;

/** Checks a bearer token (from `authorization: Bearer <token>`). Implementations never throw for a bad token. */
export interface TokenAuthenticator {
  /** A short name for logs (`local-tokens`, `token-review`). */
  readonly name: string;
  authenticate(token: string): Promise<AuthnResult>;
}
