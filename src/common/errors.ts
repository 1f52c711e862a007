/**
 * The error base of the project. Every error that crosses a module boundary is a MeshError with a
 * stable `code` (HBONE_ERR_*, ZT_ERR_*, WP_ERR_*, XDS_ERR_*, CA_ERR_*, CFG_ERR_*, PKI_ERR_*) and, where
 * one exists, the lower-level `cause`. Messages say what went wrong and what to check.
 *
 * Expected outcomes (a policy denial, a validation failure) are values, not exceptions.
 */
export class MeshError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'MeshError';
  }

  /** A JSON-friendly view for logs. */
  toJSON(): Record<string, unknown> {
    const cause = this.cause as { message?: string; code?: string } | undefined;
    return {
      code: this.code,
      message: this.message,
      ...(cause ? { cause: { message: cause.message, code: cause.code } } : {}),
    };
  }
}

/** Returns the error's stable code if it has one (MeshError or a Node system error), else undefined. */
export function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Turns anything thrown into a short message for a log line. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
