/**
 * spec.fleet: whether the sidecars of a policy share their open circuits.
 */
import { z } from 'zod';

export const Fleet = z
  .strictObject({
    mode: z
      .enum(['local', 'shared'])
      .default('local')
      .meta({
        description:
          'local: each sidecar keeps its own circuits. shared: a circuit opened by one sidecar ' +
          'opens in every sidecar of the policy; each then probes recovery on its own.',
      }),
  })
  .meta({ description: 'Whether circuit state is shared across the sidecars of this policy.' });
