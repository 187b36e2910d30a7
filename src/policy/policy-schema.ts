/**
 * The AICircuitPolicy resource (`aicircuit.io/v1alpha1`): the single source of truth for its
 * shape. The CRD's OpenAPI schema (with the descriptions `kubectl explain` shows and the CEL
 * rules) is generated from these zod schemas, and the same schemas validate policy files
 * offline. Field names are public contract; change them only with an ADR.
 */
import { z } from 'zod';
import { withRules } from './cel-rule.ts';
import { DURATION_PATTERN, parseDurationMs } from './duration.ts';

export const API_GROUP = 'aicircuit.io';
export const API_VERSION = 'v1alpha1';
export const KIND = 'AICircuitPolicy';
export const API_VERSION_FULL = `${API_GROUP}/${API_VERSION}`;

/** Endpoint classes a request is sorted into; breakers and overrides are kept per class. */
export const ENDPOINT_CLASSES = [
  'chat',
  'embeddings',
  'images',
  'audio',
  'responses',
  'other',
] as const;
export type EndpointClass = (typeof ENDPOINT_CLASSES)[number];

export const PROVIDERS = ['openai', 'azure-openai', 'anthropic', 'openai-compatible'] as const;
export type Provider = (typeof PROVIDERS)[number];

// Sized for a shared gateway-style policy (issue 11: at least 128 upstreams with chains). The
// CRD's CEL rules are costed by the API server against these bounds, so every rule that walks
// two of these lists must stay within its static cost budget (test/cluster/crd.test.ts applies
// a policy at this size to a real API server).
export const MAX_UPSTREAMS = 256;
export const MAX_FALLBACK_TARGETS = 8;
/** Bound of status.upstreams, the comma-separated names kubectl get shows. */
export const STATUS_UPSTREAMS_MAX_LENGTH = 2048;
/** Default of spec.upstreams[].maxConnections: far above what a pod opens, so nothing queues. */
export const DEFAULT_MAX_CONNECTIONS = 4096;
const NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

// ---------------------------------------------------------------------------------------------
// Small building blocks

/** A positive duration string; the CEL twin keeps the API server in step with parseDurationMs. */
function duration(description: string) {
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

function upstreamName(description: string) {
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
function credentialSource(description: string) {
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

// ---------------------------------------------------------------------------------------------
// spec.podSelector (metav1.LabelSelector)

const LabelSelectorRequirement = withRules(
  z.strictObject({
    key: z.string().min(1).max(317).meta({ description: 'The label key the selector applies to.' }),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']).meta({
      description: "The key's relationship to the values: In, NotIn, Exists or DoesNotExist.",
    }),
    values: z
      .array(z.string().max(63))
      .max(64)
      .optional()
      .meta({ description: 'Values for In and NotIn; must be empty for Exists and DoesNotExist.' }),
  }),
  [
    {
      // What Kubernetes itself refuses in a LabelSelector: `In` with no values would select
      // nothing (and a Deployment's selector like it is rejected), Exists with values is a typo.
      rule: "self.operator == 'In' || self.operator == 'NotIn' ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
      message: 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
      messageExpression:
        "'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist (key ' + self.key + ', operator ' + self.operator + ')'",
      fieldPath: '.values',
      reads: [['operator'], ['values'], ['key']],
      check: (v) => {
        const needs = v.operator === 'In' || v.operator === 'NotIn';
        const count = v.values?.length ?? 0;
        return needs === count > 0
          ? []
          : [{ path: ['values'], detail: `key ${v.key}, operator ${v.operator}` }];
      },
    },
  ],
);

const LabelSelector = z
  .strictObject({
    matchLabels: z
      .record(z.string().max(317), z.string().max(63))
      .optional()
      .meta({ description: 'Labels a pod must carry, all of them, with these values.' }),
    matchExpressions: z
      .array(LabelSelectorRequirement)
      .max(32)
      .optional()
      .meta({ description: 'Label requirements a pod must meet, all of them.' }),
  })
  .meta({
    description:
      "Which pods' sidecars this policy governs, by label. Empty selects every pod in the namespace.",
  });

// ---------------------------------------------------------------------------------------------
// spec.upstreams[]

const Timeouts = withRules(
  z.strictObject({
    connect: duration('Time allowed to open a connection to the provider.').default('5s'),
    firstByte: duration(
      'Time allowed between sending the request and the first response byte (headers).',
    ).default('60s'),
    idle: duration('Longest silence allowed between two chunks of a streamed response.').default(
      '30s',
    ),
    total: duration(
      'Longest a whole call may take, streaming included; at least firstByte.',
    ).default('600s'),
  }),
  [
    {
      // A total shorter than firstByte makes firstByte dead: the call is cut before headers can
      // be waited for, and the failure is reported as the wrong timeout. Both are defaulted, so
      // raising firstByte alone past the default total is caught too. Guarded by the pattern so
      // a malformed duration reports only its own error.
      rule:
        // has(): the CRD's default for timeouts is {}, which the API server checks as it is.
        '!has(self.total) || !has(self.firstByte) || ' +
        `!self.total.matches('${DURATION_PATTERN}') || !self.firstByte.matches('${DURATION_PATTERN}') || ` +
        'duration(self.total) >= duration(self.firstByte)',
      message: 'timeouts.total must be at least timeouts.firstByte',
      messageExpression:
        "'timeouts.total must be at least timeouts.firstByte (' + self.total + ' < ' + self.firstByte + ')'",
      fieldPath: '.total',
      reads: [['total'], ['firstByte']],
      check: (v) => {
        const total = parseDurationMs(v.total);
        const firstByte = parseDurationMs(v.firstByte);
        return total !== undefined && firstByte !== undefined && total < firstByte
          ? [{ path: ['total'], detail: `${v.total} < ${v.firstByte}` }]
          : [];
      },
    },
  ],
).meta({ description: 'Timeouts for calls to this upstream; a timeout counts as a failure.' });

const Upstream = z
  .strictObject({
    name: upstreamName(
      'Name of the upstream; apps select it with the path prefix /{name}/ on the sidecar.',
    ),
    provider: z.enum(PROVIDERS).meta({
      description: 'API the upstream speaks: openai, azure-openai, anthropic or openai-compatible.',
    }),
    baseURL: z
      .string()
      .max(2048)
      .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, {
        error: 'must be an http:// or https:// URL without query or fragment',
      })
      .meta({ description: 'Base URL of the provider API, e.g. https://api.openai.com.' }),
    apiKey: credentialSource(
      "Credentials used when this upstream serves another upstream's request as a fallback. " +
        "Requests addressed to this upstream keep the app's own credentials.",
    ).optional(),
    apiVersion: z
      .string()
      .max(64)
      .optional()
      .meta({
        description:
          'Provider API version: the api-version query parameter for azure-openai ' +
          '(default 2024-10-21), the anthropic-version header for anthropic (default 2023-06-01).',
      }),
    timeouts: Timeouts.prefault({}),
    maxConnections: z
      .int()
      .min(1)
      .max(65536)
      .default(DEFAULT_MAX_CONNECTIONS)
      .meta({
        description:
          'Most connections the sidecar holds open to this upstream at once. A streamed answer ' +
          'holds its connection until it ends. A request that would need one more is answered ' +
          'at once with 503 AICB_CONNECTION_LIMIT, never queued.',
      }),
  })
  .meta({ description: 'An AI provider endpoint the sidecar forwards to.' });

// ---------------------------------------------------------------------------------------------
// spec.breaker

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

const EndpointBreaker = z.strictObject(optionalKnobs).meta({
  description: 'Overrides of the breaker settings for one endpoint class; unset fields inherit.',
});

const Breaker = withRules(
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

// ---------------------------------------------------------------------------------------------
// spec.failOn

const FailOn = z
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

// ---------------------------------------------------------------------------------------------
// spec.fallbacks[]

const ModelName = z.string().min(1).max(256);

const FallbackTarget = withRules(
  z.strictObject({
    upstream: upstreamName('Upstream that serves the request when the ones before it cannot.'),
    model: ModelName.optional().meta({
      description: 'Model to request from this upstream, whatever the app asked for.',
    }),
    modelMap: z
      .record(ModelName, ModelName)
      .optional()
      .meta({
        description:
          'Model to request from this upstream by requested model; the key "*" matches any other. ' +
          'A requested model without a match skips this target.',
      }),
  }),
  [
    {
      rule: '!(has(self.model) && has(self.modelMap))',
      message: 'set either model or modelMap, not both',
      reads: [['model'], ['modelMap']],
      check: (v) =>
        v.model !== undefined && v.modelMap !== undefined ? [{ path: ['modelMap'] }] : [],
    },
  ],
).meta({ description: 'One step of a fallback chain, with its model mapping.' });

const Fallback = withRules(
  z.strictObject({
    from: upstreamName('Upstream whose requests this chain protects.'),
    to: z.array(FallbackTarget).min(1).max(MAX_FALLBACK_TARGETS).meta({
      description: 'Targets tried in order when the upstream fails or its circuit is open.',
    }),
  }),
  [
    {
      rule: 'self.to.all(t, t.upstream != self.from)',
      message: 'a fallback chain must not lead back to its own upstream',
      messageExpression:
        "'a fallback chain must not lead back to its own upstream (' + self.from + ')'",
      fieldPath: '.to',
      reads: [['from'], ['to', '*', 'upstream']],
      check: (v) =>
        v.to.flatMap((t, i) =>
          t.upstream === v.from ? [{ path: ['to', i, 'upstream'], detail: t.upstream }] : [],
        ),
    },
    {
      rule: 'self.to.all(t, self.to.filter(u, u.upstream == t.upstream).size() == 1)',
      message: 'a fallback chain must not name the same upstream twice',
      fieldPath: '.to',
      reads: [['to', '*', 'upstream']],
      check: (v) => {
        const seen = new Set<string>();
        return v.to.flatMap((t, i) => {
          const dup = seen.has(t.upstream);
          seen.add(t.upstream);
          return dup ? [{ path: ['to', i, 'upstream'], detail: t.upstream }] : [];
        });
      },
    },
  ],
).meta({
  description:
    'The ordered fallback chain of one upstream. Chains are explicit, not transitive: a request ' +
    "to `from` tries `to` in order and never continues into a target's own chain.",
});

// ---------------------------------------------------------------------------------------------
// spec.cache, spec.alerting, spec.fleet, spec.overrides

const Cache = z
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

export const ALERT_EVENTS = ['opened', 'halfOpen', 'closed', 'allTargetsOpen'] as const;

const Alerting = z
  .strictObject({
    // Not `on`: YAML 1.1 (what Kubernetes reads) turns a bare `on:` key into `true`
    // (docs/adr/0005-alerting-events-not-on.md).
    events: z
      .array(z.enum(ALERT_EVENTS))
      .max(4)
      .default(['opened', 'closed', 'allTargetsOpen'])
      .meta({
        description:
          'Transitions that raise an alert: opened, halfOpen, closed, allTargetsOpen. (Named events, not on: YAML 1.1 reads a bare on: key as true.)',
      }),
    webhooks: z
      .array(
        z.strictObject({
          url: credentialSource(
            'URL the alert JSON is POSTed to (it may embed a token, so it is a secret).',
          ),
        }),
      )
      .max(8)
      .optional()
      .meta({ description: 'Generic JSON webhooks.' }),
    slack: z
      .strictObject({
        webhookURL: credentialSource('Slack incoming-webhook URL.'),
      })
      .optional()
      .meta({ description: 'A Slack incoming webhook.' }),
    dedupWindow: duration(
      'The same transition of the same circuit alerts at most once per window.',
    ).default('5m'),
  })
  .meta({ description: 'Where and when to send alerts.' });

const Fleet = z
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

const Override = z
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

// ---------------------------------------------------------------------------------------------
// spec.pricing, spec.routing, spec.retry

const Price = z
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

const Routing = z
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

export const RETRY_ON = [
  'server_error',
  'overloaded',
  'rate_limited',
  'connect_timeout',
  'first_byte_timeout',
  'connection_error',
] as const;

const Retry = z
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

// ---------------------------------------------------------------------------------------------
// spec

export const PolicySpecSchema = withRules(
  z.strictObject({
    podSelector: LabelSelector.prefault({}),
    defaultUpstream: upstreamName(
      'Upstream for requests without an /{upstream}/ prefix (e.g. /v1/chat/completions). Defaults to the first upstream.',
    ).optional(),
    upstreams: z
      .array(Upstream)
      .min(1)
      .max(MAX_UPSTREAMS)
      .meta({ description: 'The AI providers the sidecar may call.' }),
    breaker: Breaker.prefault({}),
    failOn: FailOn.prefault({}),
    fallbacks: z
      .array(Fallback)
      .max(MAX_UPSTREAMS)
      .optional()
      .meta({ description: 'Fallback chains, at most one per upstream.' }),
    cache: Cache.prefault({}),
    alerting: Alerting.prefault({}),
    fleet: Fleet.prefault({}),
    pricing: z
      .record(ModelName, Price)
      .optional()
      .meta({
        description:
          'Prices per model in USD per million tokens, over the bundled, dated default table ' +
          '(docs/cost.md). A model named here replaces the default entry; dated variants ' +
          '(gpt-4o-2024-08-06) match their base name.',
      }),
    routing: Routing.prefault({}),
    retry: Retry.prefault({}),
    overrides: z
      .array(Override)
      .max(64)
      .optional()
      .meta({ description: 'Operator overrides of circuit states, with optional expiry.' }),
  }),
  [
    {
      rule: 'self.upstreams.all(u, self.upstreams.filter(v, v.name == u.name).size() == 1)',
      message: 'upstream names must be unique',
      fieldPath: '.upstreams',
      reads: [['upstreams', '*', 'name']],
      check: (v) =>
        duplicates(
          v.upstreams.map((u) => u.name),
          ['upstreams'],
          'name',
        ),
    },
    {
      rule: '!has(self.defaultUpstream) || self.upstreams.exists(u, u.name == self.defaultUpstream)',
      message: 'defaultUpstream must name one of spec.upstreams',
      messageExpression:
        "'defaultUpstream must name one of spec.upstreams (\"' + self.defaultUpstream + '\" is not declared)'",
      fieldPath: '.defaultUpstream',
      reads: [['defaultUpstream'], ['upstreams', '*', 'name']],
      check: (v) =>
        v.defaultUpstream !== undefined && !v.upstreams.some((u) => u.name === v.defaultUpstream)
          ? [{ path: ['defaultUpstream'], detail: declared(v.defaultUpstream, v.upstreams) }]
          : [],
    },
    {
      rule: '!has(self.fallbacks) || self.fallbacks.all(f, self.upstreams.exists(u, u.name == f.from))',
      message: 'fallbacks[].from must name one of spec.upstreams',
      fieldPath: '.fallbacks',
      reads: [
        ['fallbacks', '*', 'from'],
        ['upstreams', '*', 'name'],
      ],
      check: (v) =>
        (v.fallbacks ?? []).flatMap((f, i) =>
          v.upstreams.some((u) => u.name === f.from)
            ? []
            : [{ path: ['fallbacks', i, 'from'], detail: declared(f.from, v.upstreams) }],
        ),
    },
    {
      // One expression per chain position: walking every target of every chain against every
      // upstream in one expression costs 256 x 8 x 256 comparisons, 1.8 times the API server's
      // per-expression budget. Split, each stays at an eighth of that (no CEL library beyond
      // the base language, so the CRD installs on every supported Kubernetes version).
      rule: Array.from(
        { length: MAX_FALLBACK_TARGETS },
        (_, i) =>
          `!has(self.fallbacks) || self.fallbacks.all(f, size(f.to) <= ${i} || ` +
          `self.upstreams.exists(u, u.name == f.to[${i}].upstream))`,
      ),
      message: 'fallback targets must name one of spec.upstreams',
      fieldPath: '.fallbacks',
      reads: [
        ['fallbacks', '*', 'to', '*', 'upstream'],
        ['upstreams', '*', 'name'],
      ],
      check: (v) =>
        (v.fallbacks ?? []).flatMap((f, i) =>
          f.to.flatMap((t, j) =>
            v.upstreams.some((u) => u.name === t.upstream)
              ? []
              : [
                  {
                    path: ['fallbacks', i, 'to', j, 'upstream'],
                    detail: declared(t.upstream, v.upstreams),
                  },
                ],
          ),
        ),
    },
    {
      rule: '!has(self.fallbacks) || self.fallbacks.all(f, self.fallbacks.filter(g, g.from == f.from).size() == 1)',
      message: 'each upstream may have only one fallback chain',
      fieldPath: '.fallbacks',
      reads: [['fallbacks', '*', 'from']],
      check: (v) =>
        duplicates(
          (v.fallbacks ?? []).map((f) => f.from),
          ['fallbacks'],
          'from',
        ),
    },
    {
      rule: '!has(self.overrides) || self.overrides.all(o, self.upstreams.exists(u, u.name == o.upstream))',
      message: 'overrides[].upstream must name one of spec.upstreams',
      fieldPath: '.overrides',
      reads: [
        ['overrides', '*', 'upstream'],
        ['upstreams', '*', 'name'],
      ],
      check: (v) =>
        (v.overrides ?? []).flatMap((o, i) =>
          v.upstreams.some((u) => u.name === o.upstream)
            ? []
            : [{ path: ['overrides', i, 'upstream'], detail: declared(o.upstream, v.upstreams) }],
        ),
    },
  ],
).meta({
  description: 'Circuit breakers, fallbacks and alerts for the AI calls of the selected pods.',
});

function declared(name: string, upstreams: readonly { name: string }[]): string {
  return `"${name}" is not declared; declared: ${upstreams.map((u) => u.name).join(', ')}`;
}

function duplicates(
  values: readonly string[],
  listPath: readonly (string | number)[],
  field: string,
): { path: (string | number)[]; detail: string }[] {
  const seen = new Set<string>();
  return values.flatMap((value, i) => {
    const dup = seen.has(value);
    seen.add(value);
    return dup
      ? [{ path: [...listPath, i, field], detail: `"${value}" appears more than once` }]
      : [];
  });
}

// ---------------------------------------------------------------------------------------------
// status (written by the controller; never by users)

const Condition = z.strictObject({
  type: z.string().max(316).meta({ description: 'Accepted, Ready or Degraded.' }),
  status: z.enum(['True', 'False', 'Unknown']).meta({ description: 'True, False or Unknown.' }),
  observedGeneration: z
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Generation the condition was set for.' }),
  lastTransitionTime: z
    .string()
    .meta({ description: 'When the status last changed.', format: 'date-time' }),
  reason: z.string().max(1024).meta({ description: 'CamelCase reason for the status.' }),
  message: z.string().max(32768).meta({ description: 'Human readable detail.' }),
});

const CircuitStatus = z.strictObject({
  upstream: z.string().max(63).meta({ description: 'Upstream of the circuit.' }),
  endpoint: z
    .string()
    .max(32)
    .optional()
    .meta({ description: 'Endpoint class, when circuits are kept per class.' }),
  state: z
    .enum(['closed', 'open', 'halfOpen', 'forcedOpen', 'forcedClosed'])
    .meta({ description: 'Worst state reported by the sidecars.' }),
  openSidecars: z.int().min(0).meta({ description: 'Sidecars that see this circuit open.' }),
  openings: z
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Times the circuit opened, summed over sidecars.' }),
  lastTransitionTime: z
    .string()
    .optional()
    .meta({ description: 'When the state last changed.', format: 'date-time' }),
});

export const PolicyStatusSchema = z
  .strictObject({
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Generation of the spec the controller last processed.' }),
    conditions: z
      .array(Condition)
      .max(16)
      .optional()
      .meta({
        description: 'Accepted, Ready and Degraded.',
        // One entry per type, so server-side apply merges conditions one at a time.
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    upstreams: z.string().max(STATUS_UPSTREAMS_MAX_LENGTH).optional().meta({
      description:
        'Names of the upstreams, comma separated (for kubectl get); a long list ends with "… +N".',
    }),
    openCircuits: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Circuits currently open in at least one sidecar.' }),
    sidecars: z
      .strictObject({
        selected: z.int().min(0).meta({ description: 'Sidecars of pods the policy selects.' }),
        connected: z.int().min(0).meta({ description: 'Of those, connected to the controller.' }),
        acknowledged: z
          .int()
          .min(0)
          .meta({ description: 'Running the current version of the policy.' }),
        rejected: z
          .int()
          .min(0)
          .meta({ description: 'Refused the current version (and kept the last good one).' }),
      })
      .optional()
      .meta({ description: 'Delivery of the compiled policy to sidecars.' }),
    circuits: z
      .array(CircuitStatus)
      .max(256)
      .optional()
      .meta({ description: 'Circuit state per upstream (and endpoint class).' }),
    overlappingPolicies: z
      .array(z.string().max(253))
      .max(64)
      .optional()
      .meta({ description: 'Other policies in the namespace that select some of the same pods.' }),
  })
  .meta({ description: 'Observed state, written by the controller.' });

// ---------------------------------------------------------------------------------------------
// The resource

const ObjectMeta = z
  .object({
    name: z
      .string()
      .min(1)
      .max(253)
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { error: 'must be a lowercase DNS subdomain' }),
    namespace: z.string().max(63).optional(),
    generation: z.int().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .loose();

export const AICircuitPolicySchema = z.strictObject({
  apiVersion: z.literal(API_VERSION_FULL, { error: `must be ${API_VERSION_FULL}` }),
  kind: z.literal(KIND, { error: `must be ${KIND}` }),
  metadata: ObjectMeta,
  spec: PolicySpecSchema,
  status: PolicyStatusSchema.optional(),
});

/** A validated policy with every default filled in. */
export type AICircuitPolicy = z.output<typeof AICircuitPolicySchema>;
export type PolicySpec = z.output<typeof PolicySpecSchema>;
export type PolicyStatus = z.output<typeof PolicyStatusSchema>;
export type UpstreamSpec = PolicySpec['upstreams'][number];
export type CredentialSourceSpec = NonNullable<UpstreamSpec['apiKey']>;
export type BreakerSpec = PolicySpec['breaker'];
export type EndpointBreakerSpec = z.output<typeof EndpointBreaker>;
export type FallbackTargetSpec = z.output<typeof FallbackTarget>;
export type AlertEvent = (typeof ALERT_EVENTS)[number];
