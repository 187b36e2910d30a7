/**
 * spec.failOn: which outcomes of a call count as failures.
 */
import { z } from 'zod';

export const FailOn = z
  .strictObject({
    statusCodes: z
      .array(z.int().min(400).max(599))
      .max(64)
      .default([500, 502, 503, 504, 529])
      .meta({
        description:
          'Response status codes that count as failures (429, 401 and 403 have their own switches).',
      }),
    timeouts: z
      .boolean()
      .default(true)
      .meta({ description: 'Count connect, first-byte, idle and total timeouts as failures.' }),
    connectionErrors: z
      .boolean()
      .default(true)
      .meta({ description: 'Count refused, reset and TLS-failed connections as failures.' }),
    rateLimits: z
      .boolean()
      .default(true)
      .meta({
        description:
          'Count 429 responses: they fail half-open probes and count in failureRate, but do not ' +
          'advance the consecutive-failure streak (a rate limit is not an outage).',
      }),
    authErrors: z.boolean().default(false).meta({
      description: "Count 401 and 403 responses as failures (off: they are the caller's problem).",
    }),
  })
  .meta({ description: 'Which outcomes count as failures. Other 4xx never do.' });
