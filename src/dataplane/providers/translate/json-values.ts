/**
 * Narrowing of parsed JSON. Request and response bodies arrive as `unknown`; translators look at
 * them only through these checks (and `isJsonObject`/`parseJsonObject` of shared/json-object.ts),
 * so a malformed payload becomes a reported reason, never a crash.
 */

/** A finite number, or undefined. */
export function numberOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A whole, non-negative token count, or 0: usage fields are reported, never trusted blindly. */
export function tokenCountOf(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0;
}
