/**
 * Prices per model, looked up the way providers name models: a table key covers its dated and
 * suffixed variants (`gpt-4o` prices `gpt-4o-2024-08-06`), while a more specific key wins
 * (`gpt-4o-mini` is not priced as `gpt-4o`). Figures are estimates for dashboards and least-cost
 * routing, never billing. Pure: no I/O, no clock.
 */
import type { PolicySnapshot } from '../../snapshot/snapshot.ts';
import type { Usage } from './usage.ts';

/** USD per million tokens, the unit provider price lists use. */
export interface Price {
  readonly inputPerMillion: number;
  readonly outputPerMillion: number;
}

/** A price with the table key it came from, which is also the model's bounded metric label. */
export interface MatchedPrice extends Price {
  readonly matched: string;
}

/** The compiled table: bundled defaults with `spec.pricing` on top. */
export type PricingTable = Readonly<Record<string, Price>>;

/** Label for every model that is neither priced nor named by the policy. */
export const OTHER_MODEL = 'other';

/**
 * Per table, its entries with their key attached, built once: lookups on the request path then
 * return shared frozen objects instead of allocating one per call. A WeakMap lets a replaced
 * snapshot's table be collected; the entries are bounded by the table, never by client input.
 */
const matchedEntries = new WeakMap<PricingTable, Map<string, MatchedPrice>>();

function entriesOf(pricing: PricingTable): Map<string, MatchedPrice> {
  let entries = matchedEntries.get(pricing);
  if (entries === undefined) {
    entries = new Map();
    for (const [key, price] of Object.entries(pricing)) {
      entries.set(
        key,
        Object.freeze({
          inputPerMillion: price.inputPerMillion,
          outputPerMillion: price.outputPerMillion,
          matched: key,
        }),
      );
    }
    matchedEntries.set(pricing, entries);
  }
  return entries;
}

/**
 * The price of a model: its exact table entry, else the longest key that is a prefix of the
 * model followed by `-` (dated and suffixed variants), else undefined (unpriced, not free).
 */
export function priceOf(pricing: PricingTable, model: string): MatchedPrice | undefined {
  // A Map, not the record: a client-chosen model such as `constructor` must not hit a prototype.
  const entries = entriesOf(pricing);
  const exact = entries.get(model);
  if (exact !== undefined) return exact;
  // Walking the dashes from the right tries the longest candidate prefix first, so
  // `gpt-4o-mini-2024-07-18` finds `gpt-4o-mini` before `gpt-4o`.
  for (let dash = model.lastIndexOf('-'); dash > 0; dash = model.lastIndexOf('-', dash - 1)) {
    const entry = entries.get(model.slice(0, dash));
    if (entry !== undefined) return entry;
  }
  return undefined;
}

/** Estimated USD cost of one answer's tokens at a price. */
export function costUsd(price: Price, usage: Usage): number {
  return (
    (usage.inputTokens * price.inputPerMillion + usage.outputTokens * price.outputPerMillion) /
    1_000_000
  );
}

/** Input tokens per output token assumed when one number must rank models. */
export const BLENDED_INPUT_WEIGHT = 3;

/**
 * One USD-per-million figure to rank models for least-cost routing and the cost multiplier
 * guard: the price per token of a mix of 3 input tokens to 1 output token, the blend public
 * price comparisons use. Chat traffic is input-heavy (history, system prompts, retrieved
 * context) while output costs 4-8x more per token; the weighted mean stays in the table's unit,
 * so a blended figure reads like a list price.
 */
export function blendedPricePerMillion(price: Price): number {
  return (
    (BLENDED_INPUT_WEIGHT * price.inputPerMillion + price.outputPerMillion) /
    (BLENDED_INPUT_WEIGHT + 1)
  );
}

/**
 * A metric label for a model with bounded cardinality: the matched price-table key, else the
 * model itself when the policy names it, else `other`. Models come from clients, so a raw one
 * never becomes a label unless an operator wrote it down.
 */
export function modelLabel(
  pricing: PricingTable,
  model: string,
  extraKnown: ReadonlySet<string>,
): string {
  const price = priceOf(pricing, model);
  if (price !== undefined) return price.matched;
  return extraKnown.has(model) ? model : OTHER_MODEL;
}

/**
 * The models a policy names (fallback `model` fields, `modelMap` keys and values): the extra
 * labels `modelLabel` may use, bounded by what an operator wrote. Built once per snapshot.
 */
export function policyModelNames(fallbacks: PolicySnapshot['fallbacks']): ReadonlySet<string> {
  const names = new Set<string>();
  for (const chain of Object.values(fallbacks)) {
    for (const target of chain) {
      if (target.model !== null) names.add(target.model);
      if (target.modelMap !== null) {
        for (const [from, to] of Object.entries(target.modelMap)) {
          names.add(from);
          names.add(to);
        }
      }
    }
  }
  return names;
}
