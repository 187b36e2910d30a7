/**
 * The bundled price table: list prices in USD per million tokens as the providers published
 * them, and the dates providers retire models. Prices change; `spec.pricing` overrides any
 * entry, and docs/cost.md says how to keep a fleet's table current. Used for estimated cost
 * metrics and least-cost routing only, never for billing.
 */
export const DEFAULT_PRICING_AS_OF = '2026-12-01';

export const DEFAULT_PRICING: Readonly<
  Record<string, { readonly inputPerMillion: number; readonly outputPerMillion: number }>
> = {
  // OpenAI
  'gpt-5': { inputPerMillion: 1.25, outputPerMillion: 10 },
  'gpt-5-mini': { inputPerMillion: 0.25, outputPerMillion: 2 },
  'gpt-5-nano': { inputPerMillion: 0.05, outputPerMillion: 0.4 },
  'gpt-4.1': { inputPerMillion: 2, outputPerMillion: 8 },
  'gpt-4.1-mini': { inputPerMillion: 0.4, outputPerMillion: 1.6 },
  'gpt-4.1-nano': { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10 },
  'gpt-4o-mini': { inputPerMillion: 0.15, outputPerMillion: 0.6 },
  o3: { inputPerMillion: 2, outputPerMillion: 8 },
  'o3-mini': { inputPerMillion: 1.1, outputPerMillion: 4.4 },
  'o4-mini': { inputPerMillion: 1.1, outputPerMillion: 4.4 },
  'text-embedding-3-small': { inputPerMillion: 0.02, outputPerMillion: 0 },
  'text-embedding-3-large': { inputPerMillion: 0.13, outputPerMillion: 0 },
  // Anthropic
  'claude-opus-4-5': { inputPerMillion: 5, outputPerMillion: 25 },
  'claude-opus-4-1': { inputPerMillion: 15, outputPerMillion: 75 },
  'claude-sonnet-4-6': { inputPerMillion: 3, outputPerMillion: 15 },
  'claude-sonnet-4-5': { inputPerMillion: 3, outputPerMillion: 15 },
  'claude-sonnet-4': { inputPerMillion: 3, outputPerMillion: 15 },
  'claude-haiku-4-5': { inputPerMillion: 1, outputPerMillion: 5 },
  'claude-3-5-haiku': { inputPerMillion: 0.8, outputPerMillion: 4 },
};

/**
 * The day (UTC, `YYYY-MM-DD`) from which the provider answers a model with an error, keyed by
 * the price table's keys (so a dated variant inherits its base name's date). A model with a
 * date in the future is deprecated: it still works, and the Anthropic SDK warns on every call.
 * Sources: the bundled `@anthropic-ai/sdk`'s `DEPRECATED_MODELS` (claude-sonnet-4-5,
 * claude-opus-4-5) and Anthropic's model deprecation notices for the models that SDK no longer
 * lists at all. `test/unit/docs/retired-models.test.ts` fails when an example, default, doc or
 * test names a model that has a date here, so nothing the project ships stops working on it.
 */
export const MODEL_RETIREMENTS: Readonly<Record<string, string>> = {
  'claude-3-5-haiku': '2026-02-19',
  'claude-sonnet-4': '2026-06-15',
  'claude-opus-4-1': '2026-08-05',
  'claude-sonnet-4-5': '2026-11-30',
  'claude-opus-4-5': '2027-01-22',
};

/** A model's retirement as the bundled table records it. */
export interface ModelRetirement {
  /** The price-table key the model falls under (its base name). */
  readonly key: string;
  /** `YYYY-MM-DD`: the first day the provider refuses the model. */
  readonly retiresOn: string;
}

/**
 * When `model` is (or was) retired, by the same longest-base-name rule the price lookup uses:
 * `claude-sonnet-4-5-20250929` falls under `claude-sonnet-4-5`, while `claude-sonnet-4-6` is its
 * own entry and does not inherit the date of `claude-sonnet-4`. Undefined: no date known.
 */
export function modelRetirement(model: string): ModelRetirement | undefined {
  let candidate = model;
  for (;;) {
    if (Object.hasOwn(DEFAULT_PRICING, candidate)) {
      const retiresOn = MODEL_RETIREMENTS[candidate];
      return retiresOn === undefined ? undefined : { key: candidate, retiresOn };
    }
    const dash = candidate.lastIndexOf('-');
    if (dash <= 0) return undefined;
    candidate = candidate.slice(0, dash);
  }
}

/** Whether a retirement date has been reached at `wallMs` (retired from 00:00 UTC that day). */
export function isRetired(retirement: ModelRetirement, wallMs: number): boolean {
  return Date.parse(`${retirement.retiresOn}T00:00:00Z`) <= wallMs;
}
