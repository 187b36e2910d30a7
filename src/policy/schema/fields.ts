/**
 * Small building blocks of the policy schema: durations (with their CEL twin), upstream names
 * and credential sources.
 */
import { z } from 'zod';
import { withRules } from '../cel-rule.ts';
import { DURATION_PATTERN, parseDurationMs } from '../duration.ts';

const NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

/** A positive duration string; the CEL twin keeps the API server in step with parseDurationMs. */
export function duration(description: string) {
  return withRules(
    z.string().max(32).regex(new RegExp(DURATION_PATTERN), {
      error: 'must be a duration such as "500ms", "30s", "5m" or "1h30m"',
    }),
    [
      {
        // Guarded by the pattern so a malformed value reports one error (the pattern's), not two.
        rule: `!self.matches('${DURATION_PATTERN}') || duration(self) > duration('0s')`,
        message: 'must be a positive duration',
        check: (v) => {
          const ms = parseDurationMs(v);
          return ms !== undefined && ms <= 0 ? [{ path: [] }] : [];
        },
      },
    ],
  ).meta({ description });
}

export function upstreamName(description: string) {
  return z
    .string()
    .min(1)
    .max(63)
    .regex(new RegExp(NAME_PATTERN), {
      error: 'must be a lowercase DNS label (letters, digits, "-"; at most 63 characters)',
    })
    .meta({ description });
}

const SecretKeySelector = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(253)
      .meta({ description: 'Name of a Secret in the namespace of the policy.' }),
    key: z.string().min(1).max(253).meta({ description: 'Key within the Secret.' }),
  })
  .meta({
    description: 'A key of a Secret in the namespace of the policy (resolved by the controller).',
  });

/** Where a secret value (API key, webhook URL) comes from: exactly one source. */
export function credentialSource(description: string) {
  return withRules(
    z.strictObject({
      secretKeyRef: SecretKeySelector.optional(),
      env: z
        .string()
        .min(1)
        .max(253)
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be an environment variable name' })
        .optional()
        .meta({ description: "Name of an environment variable of the sidecar's container." }),
      file: z
        .string()
        .min(1)
        .max(4096)
        .regex(/^\//, { error: 'must be an absolute path' })
        .optional()
        .meta({
          description:
            'Absolute path of a file mounted into the sidecar; its content is the value.',
        }),
    }),
    [
      {
        rule: '[has(self.secretKeyRef), has(self.env), has(self.file)].filter(x, x).size() == 1',
        message: 'set exactly one of secretKeyRef, env or file',
        reads: [['secretKeyRef'], ['env'], ['file']],
        check: (v) =>
          [v.secretKeyRef, v.env, v.file].filter((x) => x !== undefined).length === 1
            ? []
            : [{ path: [] }],
      },
    ],
  ).meta({ description });
}
