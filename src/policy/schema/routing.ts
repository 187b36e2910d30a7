/**
 * spec.pricing and spec.routing: model prices, and how fallback targets are ordered with cost in
 * mind.
 */
import { z } from 'zod';

export const Price = z
  .strictObject({
    inputPerMillion: z
      .number()
      .min(0)
      .max(10_000)
      .meta({ description: 'USD per million input (prompt) tokens.' }),
    outputPerMillion: z
      .number()
      .min(0)
      .max(10_000)
      .meta({ description: 'USD per million output (completion) tokens.' }),
  })
  .meta({ description: 'List price of one model.' });

export const Routing = z
  .strictObject({
    strategy: z
      .enum(['ordered', 'least-cost'])
      .default('ordered')
      .meta({
        description:
          'ordered: fallback targets are tried as listed. least-cost: among the targets whose circuit ' +
          'admits the request, the cheapest mapped model is tried first.',
      }),
    maxCostMultiplier: z
      .number()
      .min(1)
      .max(1000)
      .optional()
      .meta({
        description:
          'Never fall back to a model whose price is more than this multiple of the requested ' +
          "model's (such targets are skipped with the reason too_expensive). Unset: no limit.",
      }),
  })
  .meta({ description: 'How fallback targets are ordered, with cost in mind.' });
