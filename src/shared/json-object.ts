/**
 * The one JSON-object parser. Bodies, stream events, controller messages and API answers arrive
 * as text that may not be JSON at all; every reader that wants an object asks here, so malformed
 * input becomes `undefined` to report, never an exception to forget.
 */

/** A JSON object as parsed (never an array, never null). */
export type JsonObject = Record<string, unknown>;

/** True for a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object `text` holds; `undefined` when it is not JSON, or JSON but not an object. */
export function parseJsonObject(text: string): JsonObject | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
  return isJsonObject(value) ? value : undefined;
}
