/**
 * spec.breaker: when circuits open and how they recover: the trip rules (consecutive failures,
 * failure rate, slow calls, adaptive tiers), recovery and its backoff, and per endpoint class
 * overrides that inherit what they leave unset.
 */
import { z } from 'zod';
import { withRules } from '../cel-rule.ts';
import { parseDurationMs } from '../duration.ts';
import { duration } from './fields.ts';
import { ENDPOINT_CLASSES, type EndpointClass } from './vocabulary.ts';

const FailureRate = z
  .strictObject({
    percent: z.int().min(1).max(100).meta({
      description: 'Trip when at least this percentage of completed calls in the window failed.',
    }),
    minimumRequests: z
      .int()
      .min(1)
      .max(100000)
      .default(20)
      .meta({ description: 'Completed calls the window must hold before the rate is judged.' }),
  })
  .meta({ description: 'Second trip rule, off unless set: the failure rate over the window.' });

const SlowCall = z
  .strictObject({
    threshold: duration('A call is slow when its time to first byte exceeds this.'),
    percent: z.int().min(1).max(100).meta({
      description: 'Trip when at least this percentage of completed calls in the window were slow.',
    }),
    minimumRequests: z.int().min(1).max(100000).default(20).meta({
      description: 'Completed calls the window must hold before the slow share is judged.',
    }),
  })
  .meta({ description: 'Optional trip rule on slow responses (time to first byte).' });

const backoffKnobs = {
  multiplier: z
    .number()
    .min(1)
    .max(10)
    .meta({ description: 'Each re-trip multiplies the open period by this factor.' }),
  max: duration('Upper bound of the open period.'),
  jitter: z.number().min(0).max(1).meta({
    description:
      'Random shortening of each open period by up to this fraction, so sidecars do not probe in lockstep.',
  }),
};
const BACKOFF_DESCRIPTION = 'How the open period grows while an upstream keeps failing its probes.';

const RecoveryBackoff = z
  .strictObject({
    multiplier: backoffKnobs.multiplier.default(2),
    max: backoffKnobs.max.default('5m'),
    jitter: backoffKnobs.jitter.default(0.2),
  })
  .meta({ description: BACKOFF_DESCRIPTION });

const RecoveryBackoffOverride = z
  .strictObject({
    multiplier: backoffKnobs.multiplier.optional(),
    max: backoffKnobs.max.optional(),
    jitter: backoffKnobs.jitter.optional(),
  })
  .meta({ description: BACKOFF_DESCRIPTION });

const AdaptiveTier = z.strictObject({
  minRequestsPerMinute: z.int().min(1).max(10_000_000).meta({
    description: 'This tier applies from this request volume upwards (measured over the window).',
  }),
  failureThreshold: z
    .int()
    .min(1)
    .max(100000)
    .meta({ description: 'Consecutive failures that trip the breaker at this volume.' }),
});

const BREAKER_DESCRIPTIONS = {
  failureThreshold:
    'Consecutive failures that open the circuit (0 turns the rule off; then failureRate must be set).',
  window: 'Time window the failures must fall within; also the window of failureRate and slowCall.',
  recoveryTimeout:
    'How long the circuit stays open after the first trip before a probe is let through.',
  successThreshold: 'Successful probes needed to close a half-open circuit.',
  halfOpenMaxProbes:
    'Probes allowed in flight while half-open; other requests go to the fallback at once.',
  probeTimeout:
    'A probe that has not shown content after this long counts as failed (a stream has succeeded at its first content and then runs to its end).',
} as const;

/** The trip and recovery knobs, without defaults (the per-endpoint form inherits unset ones). */
const knobs = {
  failureThreshold: z
    .int()
    .min(0)
    .max(100000)
    .meta({ description: BREAKER_DESCRIPTIONS.failureThreshold }),
  window: duration(BREAKER_DESCRIPTIONS.window),
  recoveryTimeout: duration(BREAKER_DESCRIPTIONS.recoveryTimeout),
  successThreshold: z
    .int()
    .min(1)
    .max(1000)
    .meta({ description: BREAKER_DESCRIPTIONS.successThreshold }),
  halfOpenMaxProbes: z
    .int()
    .min(1)
    .max(1000)
    .meta({ description: BREAKER_DESCRIPTIONS.halfOpenMaxProbes }),
  probeTimeout: duration(BREAKER_DESCRIPTIONS.probeTimeout),
};

/** The knobs with the product defaults, for spec.breaker itself. */
const defaultedKnobs = {
  failureThreshold: knobs.failureThreshold.default(5),
  window: knobs.window.default('60s'),
  failureRate: FailureRate.optional(),
  slowCall: SlowCall.optional(),
  recoveryTimeout: knobs.recoveryTimeout.default('30s'),
  recoveryBackoff: RecoveryBackoff.prefault({}),
  successThreshold: knobs.successThreshold.default(2),
  halfOpenMaxProbes: knobs.halfOpenMaxProbes.default(1),
  probeTimeout: knobs.probeTimeout.default('30s'),
};

/** The knobs as overrides: every field optional, unset ones inherit from spec.breaker. */
const optionalKnobs = {
  failureThreshold: knobs.failureThreshold.optional(),
  window: knobs.window.optional(),
  failureRate: FailureRate.optional(),
  slowCall: SlowCall.optional(),
  recoveryTimeout: knobs.recoveryTimeout.optional(),
  recoveryBackoff: RecoveryBackoffOverride.optional(),
  successThreshold: knobs.successThreshold.optional(),
  halfOpenMaxProbes: knobs.halfOpenMaxProbes.optional(),
  probeTimeout: knobs.probeTimeout.optional(),
};

/** With the streak rule off, only a failure-rate rule could ever open the circuit. */
const FAILURE_THRESHOLD_NEEDS_A_RULE = {
  // `!= 0`, not `> 0`: a negative value already fails the schema's minimum, and must not also
  // read as "0 turns off the rule" (a misleading second message).
  rule: '!has(self.failureThreshold) || self.failureThreshold != 0 || has(self.failureRate)',
  message: 'failureThreshold 0 turns off the consecutive rule, so failureRate must be set',
  reads: [['failureThreshold'], ['failureRate']],
  check: (v: { failureThreshold?: number | undefined; failureRate?: unknown }) =>
    v.failureThreshold === 0 && v.failureRate === undefined
      ? [{ path: ['failureThreshold'] as const }]
      : [],
};

export const EndpointBreaker = z.strictObject(optionalKnobs).meta({
  description: 'Overrides of the breaker settings for one endpoint class; unset fields inherit.',
});

export const Breaker = withRules(
  z.strictObject({
    ...defaultedKnobs,
    keyBy: z
      .enum(['upstream', 'endpoint', 'model'])
      .default('endpoint')
      .meta({
        description:
          'Granularity of breakers: one per upstream, per upstream and endpoint class, ' +
          'or per upstream, endpoint class and model.',
      }),
    adaptive: z
      .array(AdaptiveTier)
      .max(8)
      .optional()
      .meta({
        description:
          'Volume-dependent failureThreshold: the highest tier whose minRequestsPerMinute the ' +
          'traffic reaches replaces it, so busy upstreams are not tripped by a few stray errors.',
      }),
    endpoints: z
      .strictObject(
        Object.fromEntries(ENDPOINT_CLASSES.map((c) => [c, EndpointBreaker.optional()])) as Record<
          EndpointClass,
          z.ZodOptional<typeof EndpointBreaker>
        >,
      )
      .optional()
      .meta({
        description:
          'Per endpoint class overrides (chat, embeddings, images, audio, responses, other).',
      }),
  }),
  [
    FAILURE_THRESHOLD_NEEDS_A_RULE,
    {
      // An endpoint override may switch the streak rule off when a rate rule applies to it,
      // its own or the one it inherits from spec.breaker.
      rule:
        '!has(self.endpoints) || has(self.failureRate) || [' +
        ENDPOINT_CLASSES.map(
          (c) =>
            `!has(self.endpoints.${c}) || !has(self.endpoints.${c}.failureThreshold) || ` +
            `self.endpoints.${c}.failureThreshold != 0 || has(self.endpoints.${c}.failureRate)`,
        )
          .map((clause) => `(${clause})`)
          .join(', ') +
        '].all(ok, ok)',
      message:
        "an endpoint override with failureThreshold 0 needs failureRate, its own or spec.breaker's",
      reads: [['failureRate'], ['endpoints']],
      check: (v) =>
        v.failureRate !== undefined
          ? []
          : ENDPOINT_CLASSES.flatMap((c) => {
              const e = v.endpoints?.[c];
              return e?.failureThreshold === 0 && e.failureRate === undefined
                ? [{ path: ['endpoints', c, 'failureThreshold'] }]
                : [];
            }),
    },
    {
      rule:
        '!has(self.recoveryBackoff) || !has(self.recoveryBackoff.max) || !has(self.recoveryTimeout) || ' +
        'duration(self.recoveryBackoff.max) >= duration(self.recoveryTimeout)',
      message: 'recoveryBackoff.max must be at least recoveryTimeout',
      messageExpression:
        "'recoveryBackoff.max must be at least recoveryTimeout (' + self.recoveryBackoff.max + ' < ' + self.recoveryTimeout + ')'",
      fieldPath: '.recoveryBackoff.max',
      reads: [['recoveryBackoff', 'max'], ['recoveryTimeout']],
      check: (v) => {
        const max = parseDurationMs(v.recoveryBackoff.max);
        const base = parseDurationMs(v.recoveryTimeout);
        return max !== undefined && base !== undefined && max < base
          ? [
              {
                path: ['recoveryBackoff', 'max'],
                detail: `${v.recoveryBackoff.max} < ${v.recoveryTimeout}`,
              },
            ]
          : [];
      },
    },
    {
      rule: '!has(self.adaptive) || self.adaptive.all(i, self.adaptive.filter(j, j.minRequestsPerMinute == i.minRequestsPerMinute).size() == 1)',
      message: 'adaptive tiers must have distinct minRequestsPerMinute values',
      reads: [['adaptive']],
      check: (v) => {
        const seen = new Set<number>();
        const out: { path: (string | number)[]; detail: string }[] = [];
        (v.adaptive ?? []).forEach((tier, i) => {
          if (seen.has(tier.minRequestsPerMinute))
            out.push({
              path: ['adaptive', i, 'minRequestsPerMinute'],
              detail: `${tier.minRequestsPerMinute} appears twice`,
            });
          seen.add(tier.minRequestsPerMinute);
        });
        return out;
      },
    },
  ],
).meta({ description: 'When circuits open and how they recover.' });
