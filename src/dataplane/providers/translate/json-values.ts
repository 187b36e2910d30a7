/**
 * Narrowing of parsed JSON. Request and response bodies arrive as `unknown`; translators look at
 * them only through these checks, so a malformed payload becomes a reported reason, never a crash.
 */

/** A JSON object as parsed from a body (never an array, never null). */
export type JsonObject = Record<string, unknown>;

/** True for a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses JSON text; `undefined` when it is not JSON (JSON itself never yields undefined). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A finite number, or undefined. */
export function numberOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A whole, non-negative token count, or 0: usage fields are reported, never trusted blindly. */
export function tokenCountOf(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}
