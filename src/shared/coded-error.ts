import { errorCodeSpec, type ErrorCode, type ErrorCodeSpec } from './error-codes.ts';

/**
 * Base class of every error the product throws on purpose. `code` is stable (`AICB_*`), one of
 * the registry's (src/shared/error-codes.ts, listed in docs/errors.md), and safe to show to
 * users; messages never contain secrets.
 */
export class CodedError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** The registry entry of this error's code: meaning, advice, HTTP answer if any. */
  get spec(): ErrorCodeSpec {
    return errorCodeSpec(this.code);
  }
}

/** True for errors raised by this product with a stable code. */
export function isCodedError(value: unknown): value is CodedError {
  return value instanceof CodedError;
}
