import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  OTHER_MODEL,
  blendedPricePerMillion,
  costUsd,
  modelLabel,
  policyModelNames,
  priceOf,
  type PricingTable,
} from '../../../src/dataplane/cost/pricing.ts';
import { DEFAULT_PRICING } from '../../../src/policy/default-pricing.ts';

describe('priceOf', () => {
  it.each([
    ['gpt-4o', 'gpt-4o'],
    ['gpt-4o-2024-08-06', 'gpt-4o'],
    ['gpt-4o-mini', 'gpt-4o-mini'],
    ['gpt-4o-mini-2024-07-18', 'gpt-4o-mini'],
    ['gpt-4.1-nano-2025-04-14', 'gpt-4.1-nano'],
    ['gpt-5-chat-latest', 'gpt-5'],
    ['gpt-5-mini', 'gpt-5-mini'],
    ['claude-sonnet-4-6', 'claude-sonnet-4-6'],
    ['claude-haiku-4-5', 'claude-haiku-4-5'],
    ['claude-haiku-4-5-20251001', 'claude-haiku-4-5'],
    ['gpt-4o-', 'gpt-4o'],
  ])('%s is priced as %s', (model, key) => {
    expect(priceOf(DEFAULT_PRICING, model)?.matched).toBe(key);
  });

  it.each([
    ['gpt-4', 'a prefix of a key is not a variant of it'],
    ['gpt-4oo', 'a key must be followed by a dash'],
    ['my-gpt-4o', 'keys match at the start only'],
    ['GPT-4O', 'models are case-sensitive'],
    ['', 'the empty model'],
    ['constructor', 'prototype names are not entries'],
    ['__proto__-x', 'prototype names are not entries'],
  ])('%s is unpriced (%s)', (model) => {
    expect(priceOf(DEFAULT_PRICING, model)).toBeUndefined();
  });

  it('returns the entry with its key, the same object on every call', () => {
    const price = priceOf(DEFAULT_PRICING, 'gpt-4o-2024-08-06');
    expect(price).toEqual({ inputPerMillion: 2.5, outputPerMillion: 10, matched: 'gpt-4o' });
    expect(priceOf(DEFAULT_PRICING, 'gpt-4o')).toBe(price);
  });

  it('prefers an exact entry an operator added for a dated model', () => {
    const table: PricingTable = {
      ...DEFAULT_PRICING,
      'gpt-4o-2024-05-13': { inputPerMillion: 5, outputPerMillion: 15 },
    };
    expect(priceOf(table, 'gpt-4o-2024-05-13')?.inputPerMillion).toBe(5);
    expect(priceOf(table, 'gpt-4o-2024-08-06')?.inputPerMillion).toBe(2.5);
  });

  it('finds the longest key that is the model or a dash-prefix of it (brute-force oracle)', () => {
    const part = fc.constantFrom('a', 'b', 'ab', '4o', 'mini', '1');
    const name = fc.array(part, { minLength: 1, maxLength: 4 }).map((p) => p.join('-'));
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 8 }), name, (keys, model) => {
        const table: PricingTable = Object.fromEntries(
          keys.map((k, i) => [k, { inputPerMillion: i, outputPerMillion: i }]),
        );
        const candidates = keys.filter((k) => model === k || model.startsWith(`${k}-`));
        const expected = candidates.sort((a, b) => b.length - a.length)[0];
        expect(priceOf(table, model)?.matched).toBe(expected);
      }),
    );
  });
});

describe('costUsd', () => {
  it.each([
    [{ inputTokens: 1_000_000, outputTokens: 1_000_000 }, 'gpt-4o', 12.5],
    [{ inputTokens: 1000, outputTokens: 500 }, 'gpt-4o-mini', 0.00045],
    [{ inputTokens: 572, outputTokens: 89 }, 'claude-sonnet-4-6', 0.003051],
    [{ inputTokens: 4, outputTokens: 0 }, 'text-embedding-3-small', 0.00000008],
    [{ inputTokens: 0, outputTokens: 0 }, 'claude-haiku-4-5', 0],
  ])('%o on %s costs %f USD', (usage, model, usd) => {
    const price = priceOf(DEFAULT_PRICING, model);
    expect(price).toBeDefined();
    if (price !== undefined) expect(costUsd(price, usage)).toBeCloseTo(usd, 12);
  });

  it('is additive over answers', () => {
    fc.assert(
      fc.property(fc.nat(1e7), fc.nat(1e7), fc.nat(1e7), fc.nat(1e7), (i1, o1, i2, o2) => {
        const price = { inputPerMillion: 3, outputPerMillion: 15 };
        const sum =
          costUsd(price, { inputTokens: i1, outputTokens: o1 }) +
          costUsd(price, { inputTokens: i2, outputTokens: o2 });
        const whole = costUsd(price, { inputTokens: i1 + i2, outputTokens: o1 + o2 });
        expect(whole).toBeCloseTo(sum, 9);
      }),
    );
  });
});

describe('blendedPricePerMillion', () => {
  it('weighs three input tokens per output token, in USD per million', () => {
    expect(blendedPricePerMillion({ inputPerMillion: 2.5, outputPerMillion: 10 })).toBe(4.375);
    expect(blendedPricePerMillion({ inputPerMillion: 3, outputPerMillion: 15 })).toBe(6);
    expect(blendedPricePerMillion({ inputPerMillion: 2, outputPerMillion: 2 })).toBe(2);
  });

  it('ranks the bundled models as their list prices do', () => {
    const blended = (model: string) => {
      const price = priceOf(DEFAULT_PRICING, model);
      if (price === undefined) throw new Error(model);
      return blendedPricePerMillion(price);
    };
    expect(blended('gpt-4o-mini')).toBeLessThan(blended('gpt-4o'));
    expect(blended('gpt-5-nano')).toBeLessThan(blended('gpt-5-mini'));
    expect(blended('gpt-5-mini')).toBeLessThan(blended('gpt-5'));
    expect(blended('claude-haiku-4-5')).toBeLessThan(blended('claude-sonnet-4-6'));
  });

  it('never decreases when either price rises', () => {
    fc.assert(
      fc.property(fc.nat(100), fc.nat(100), fc.nat(100), (i, o, extra) => {
        const base = blendedPricePerMillion({ inputPerMillion: i, outputPerMillion: o });
        const inputUp = blendedPricePerMillion({ inputPerMillion: i + extra, outputPerMillion: o });
        const outputUp = blendedPricePerMillion({
          inputPerMillion: i,
          outputPerMillion: o + extra,
        });
        expect(inputUp).toBeGreaterThanOrEqual(base);
        expect(outputUp).toBeGreaterThanOrEqual(base);
      }),
    );
  });
});

describe('modelLabel', () => {
  const known = new Set(['my-finetune', 'azure-deployment-prod']);

  it.each([
    ['gpt-4o-2024-08-06', 'gpt-4o'],
    ['gpt-4o-mini', 'gpt-4o-mini'],
    ['my-finetune', 'my-finetune'],
    ['my-finetune-v2', OTHER_MODEL],
    ['azure-deployment-prod', 'azure-deployment-prod'],
    ['anything a client sends', OTHER_MODEL],
    ['constructor', OTHER_MODEL],
  ])('%s is labelled %s', (model, label) => {
    expect(modelLabel(DEFAULT_PRICING, model, known)).toBe(label);
  });

  it('only ever yields a table key, a policy-named model or "other"', () => {
    const allowed = new Set([...Object.keys(DEFAULT_PRICING), ...known, OTHER_MODEL]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc
            .constantFrom(...Object.keys(DEFAULT_PRICING))
            .chain((k) => fc.string().map((s) => `${k}-${s}`)),
        ),
        (model) => {
          expect(allowed.has(modelLabel(DEFAULT_PRICING, model, known))).toBe(true);
        },
      ),
    );
  });
});

describe('policyModelNames', () => {
  it('collects fallback models and both sides of model maps', () => {
    const names = policyModelNames({
      openai: [
        { upstream: 'azure', model: null, modelMap: { 'gpt-4o': 'prod-4o' } },
        { upstream: 'anthropic', model: 'claude-sonnet-4-6', modelMap: null },
      ],
      azure: [],
    });
    expect([...names].sort()).toEqual(['claude-sonnet-4-6', 'gpt-4o', 'prod-4o']);
  });
});
