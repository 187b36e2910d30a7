/**
 * spec.overrides[]: operator overrides of circuit states, with optional expiry.
 */
import { z } from 'zod';
import { upstreamName } from './fields.ts';
import { ENDPOINT_CLASSES } from './vocabulary.ts';

export const Override = z
  .strictObject({
    upstream: upstreamName('Upstream whose circuits are forced.'),
    endpoint: z
      .enum(ENDPOINT_CLASSES)
      .optional()
      .meta({ description: 'Limit the override to one endpoint class; all classes when unset.' }),
    state: z.enum(['forcedOpen', 'forcedClosed']).meta({
      description:
        'forcedOpen: reject at once (and fall back) without calling the upstream. ' +
        'forcedClosed: always call the upstream; failures are recorded but never trip.',
    }),
    until: z.iso.datetime({ offset: true }).max(64).optional().meta({
      description: 'RFC 3339 time at which the override stops applying; forever when unset.',
      format: 'date-time',
    }),
    reason: z
      .string()
      .max(256)
      .optional()
      .meta({ description: 'Why, for the humans reading status and alerts.' }),
  })
  .meta({ description: 'An operator override of the circuit state of one upstream.' });
