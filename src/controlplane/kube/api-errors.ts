/**
 * Reading failures of Kubernetes calls. client-node reports them in several shapes (generated
 * clients throw `ApiException` with `code`, `Watch` passes errors with `statusCode`, our JSON
 * getter throws `KubeHttpError`); retry decisions and log lines need one view of all of them.
 */
import { isJsonObject, parseJsonObject } from '../../shared/json-object.ts';

/** A non-2xx answer of the API server, with the `Status` it sent (reason and message only). */
export class KubeHttpError extends Error {
  /** HTTP status, e.g. 404, 409, 410. */
  readonly statusCode: number;
  /** `Status.reason`, e.g. `NotFound`, `Expired`, `Conflict`. */
  readonly reason: string | undefined;

  constructor(statusCode: number, reason: string | undefined, message: string) {
    super(`HTTP ${statusCode}${reason === undefined ? '' : ` ${reason}`}: ${message}`);
    this.name = 'KubeHttpError';
    this.statusCode = statusCode;
    this.reason = reason;
  }

  /** Builds the error from a response body that is usually a `Status` object. */
  static fromBody(statusCode: number, body: unknown): KubeHttpError {
    const status = statusFields(body);
    return new KubeHttpError(statusCode, status.reason, status.message ?? 'no message');
  }
}

/** HTTP status of a failed call, or undefined when the request never got an answer. */
export function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const record = error as Record<string, unknown>;
  // ApiException.code and Status.code are HTTP statuses; Node's error codes are strings.
  for (const key of ['statusCode', 'code'] as const) {
    const value = record[key];
    if (typeof value === 'number' && value >= 100 && value <= 599) return value;
  }
  return undefined;
}

/**
 * Whether repeating the same request may succeed: no answer at all (network, timeout), 409
 * (someone else wrote first), 429 (throttled) or a 5xx.
 */
export function isRetryableKubeError(error: unknown): boolean {
  const status = httpStatusOf(error);
  return status === undefined || status === 409 || status === 429 || status >= 500;
}

/**
 * A short, secret-free description for logs. `ApiException` messages embed the whole response
 * body and headers; only the status, `Status.reason` and a bounded `Status.message` are kept.
 */
export function describeKubeError(error: unknown): string {
  const status = httpStatusOf(error);
  if (error instanceof KubeHttpError) return truncate(error.message);
  if (status !== undefined) {
    const body = (error as { body?: unknown }).body;
    const fields = statusFields(body);
    const detail = [fields.reason, fields.message].filter((s) => s !== undefined).join(': ');
    return truncate(`HTTP ${status}${detail === '' ? '' : ` ${detail}`}`);
  }
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return truncate(`${error.name}: ${error.message}${cause}`);
  }
  return truncate(String(error));
}

/** `reason` and `message` of a `Status` given as an object or as JSON text. */
function statusFields(body: unknown): { reason?: string; message?: string } {
  if (typeof body === 'string') {
    const parsed = parseJsonObject(body);
    return parsed === undefined ? { message: body } : statusFields(parsed);
  }
  if (!isJsonObject(body)) return {};
  const out: { reason?: string; message?: string } = {};
  if (typeof body.reason === 'string') out.reason = body.reason;
  if (typeof body.message === 'string') out.message = body.message;
  return out;
}

function truncate(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
