/**
 * The outcome of translating one payload: the body for the other API, or the reason this target
 * cannot serve the request faithfully. The reason is short, stable and human-readable: it goes to
 * logs and `x-aicb-attempts`, so it must never contain request content or credentials.
 */

/** A translated body, or why the target must be skipped (never answered wrongly). */
export type TranslationResult<Body extends object = Record<string, unknown>> =
  { readonly ok: true; readonly body: Body } | { readonly ok: false; readonly reason: string };

/**
 * Thrown deep inside a translator and caught at its entry point, so mapping helpers can stop at
 * the first unmappable feature without threading results through every call.
 */
export class Untranslatable extends Error {
  override readonly name = 'Untranslatable';
}

/** Stops the translation with a reason (caught by `translating`). */
export function untranslatable(reason: string): never {
  throw new Untranslatable(reason);
}

/** Runs a translation, turning `untranslatable(...)` into a result; other errors are bugs. */
export function translating<Body extends object>(run: () => Body): TranslationResult<Body> {
  try {
    return { ok: true, body: run() };
  } catch (error) {
    if (error instanceof Untranslatable) return { ok: false, reason: error.message };
    throw error;
  }
}

/** A short, printable rendering of a value from a payload, for a reason (never its content). */
export function quoted(value: unknown): string {
  const text = typeof value === 'string' ? value : typeof value;
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
