import { MeshError } from '../common/errors.js';

/**
 * Errors of the HBONE client. Codes:
 * - HBONE_ERR_STATUS: the peer answered the CONNECT with a status other than 200 (`status` says which).
 * - HBONE_ERR_CONNECT: TCP, TLS or HTTP/2 setup to the peer failed.
 * - HBONE_ERR_IDENTITY: the peer's certificate is valid but not one of the identities we expected.
 * - HBONE_ERR_TIMEOUT: connection setup or the CONNECT answer took too long.
 * - HBONE_ERR_CLOSED: the pool or connection was closed while the request was pending.
 * - HBONE_ERR_BAD_TARGET: the target authority is not `ip:port`.
 */
export class HboneError extends MeshError {
  /** HTTP status of the CONNECT answer, when there was one. */
  readonly status: number | undefined;
  /** The CONNECT got no answer on a connection the peer was closing (GOAWAY): safe to try again. */
  unanswered = false;

  constructor(code: string, message: string, options?: { cause?: unknown; status?: number }) {
    super(code, message, options);
    this.name = 'HboneError';
    this.status = options?.status;
  }
}
