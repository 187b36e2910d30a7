/**
 * Base class of every error the product raises on purpose. `code` is stable (`AICB_*`), listed
 * in docs/errors.md, and safe to show to users; messages never contain secrets.
 */
export class CodedError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** True for errors raised by this product with a stable code. */
export function isCodedError(value: unknown): value is CodedError {
  return value instanceof CodedError;
}
