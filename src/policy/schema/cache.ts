/**
 * spec.cache: the last-resort cache of successful responses.
 */
import { z } from 'zod';
import { duration } from './fields.ts';

export const Cache = z
  .strictObject({
    enabled: z.boolean().default(false).meta({
      description:
        'Serve the last good response for an identical request when every target is down.',
    }),
    ttl: duration('How long a cached response may be served after it was stored.').default('5m'),
    maxEntries: z
      .int()
      .min(1)
      .max(1_000_000)
      .default(1000)
      .meta({ description: 'Most responses kept; the least recently used go first.' }),
    maxBytes: z
      .int()
      .min(1024)
      .max(4_294_967_296)
      .default(67_108_864)
      .meta({ description: 'Most bytes of response bodies kept (default 64 MiB).' }),
  })
  .meta({
    description: 'Last-resort cache of successful non-streaming responses (off by default).',
  });
