/**
 * spec.retry: bounded retries on the same target, with backoff and a retry budget.
 */
import { z } from 'zod';
import { duration } from './fields.ts';
import { RETRY_ON } from './vocabulary.ts';

export const Retry = z
  .strictObject({
    attempts: z
      .int()
      .min(0)
      .max(5)
      .default(0)
      .meta({
        description:
          'Retries on the same target before moving down the chain (0: none). Only before any byte ' +
          'reached the app; every retry is an outcome the breaker records.',
      }),
    // Not `on`: YAML 1.1 (what Kubernetes reads) would turn that key into `true`.
    retryOn: z
      .array(z.enum(RETRY_ON))
      .max(6)
      .default(['overloaded', 'rate_limited', 'connect_timeout', 'connection_error'])
      .meta({ description: 'Failure kinds that are retried; others move down the chain at once.' }),
    backoff: z
      .strictObject({
        base: duration('Delay before the first retry; doubles on each one.').default('200ms'),
        max: duration('Longest delay between two retries.').default('2s'),
      })
      .prefault({})
      .meta({ description: 'Exponential backoff with full jitter between retries.' }),
    maxRetryAfter: duration(
      'A Retry-After up to this long is waited for; a longer one moves down the chain instead of sleeping.',
    ).default('2s'),
    budget: z
      .strictObject({
        percent: z.int().min(1).max(100).default(20).meta({
          description: 'Retries may be at most this percentage of requests in the window.',
        }),
        window: duration('Sliding window the budget is counted over.').default('10s'),
        minRetries: z.int().min(0).max(1000).default(3).meta({
          description: 'Retries always allowed per window, so a quiet sidecar can still retry.',
        }),
      })
      .prefault({})
      .meta({
        description:
          'Caps retries to a share of traffic, so a provider brown-out never becomes a retry storm.',
      }),
  })
  .meta({ description: 'Bounded retries on the same target (off by default).' });
