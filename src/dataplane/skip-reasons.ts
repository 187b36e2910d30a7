/**
 * Why a fallback target is skipped without a call. The same words appear in `x-aicb-attempts`
 * (`anthropic:skipped-no_credentials`) and as `aicb_fallbacks_total{result="skipped_<reason>"}`;
 * docs/troubleshooting.md and docs/metrics.md are tested against this list.
 */
export const SKIP_REASONS = [
  /** A `modelMap` without an entry for the requested model (and no `"*"`), or none at all. */
  'no_model_mapping',
  /** A target of another provider (or API) has no `apiKey` that can be read here. */
  'no_credentials',
  /** The request uses something the target's API cannot express (detail in parentheses). */
  'untranslatable',
  /** The target's model costs more than `routing.maxCostMultiplier` times the requested one. */
  'too_expensive',
] as const;

export type SkipReason = (typeof SKIP_REASONS)[number];
