/**
 * The compiled policy a sidecar runs: a versioned machine contract, separate from the
 * Kubernetes resource so the CRD can evolve without a new sidecar and a sidecar can be tested
 * without a cluster. Everything is resolved: durations in milliseconds, defaults filled in,
 * per-endpoint breaker settings merged, fallback chains indexed by upstream. The sidecar
 * validates every snapshot it receives against this schema and refuses other schema versions.
 */
import { z } from 'zod';
import type { BreakerConfig } from '../breaker/breaker-config.ts';
import {
  ALERT_EVENTS,
  ENDPOINT_CLASSES,
  PROVIDERS,
  RETRY_ON,
} from '../policy/schema/vocabulary.ts';

/** Bumped on any incompatible change; a sidecar refuses snapshots of another version. */
export const SNAPSHOT_SCHEMA_VERSION = 1;

const Ms = z.number().int().min(0);

const RateRule = z.strictObject({
  basisPoints: z.number().int().min(1).max(10_000),
  minimumRequests: z.number().int().min(1),
});

export const BreakerConfigSchema = z.strictObject({
  failureThreshold: z.number().int().min(0),
  windowMs: Ms.min(1),
  windowBuckets: z.number().int().min(1).max(600),
  failureRate: RateRule.nullable(),
  slowCall: RateRule.extend({ durationMs: Ms }).nullable(),
  recoveryTimeoutMs: Ms.min(1),
  recoveryBackoff: z.strictObject({
    multiplier: z.number().min(1),
    maxMs: Ms.min(1),
    jitter: z.number().min(0).max(1),
  }),
  maxRetryAfterMs: Ms,
  attemptResetAfterMs: Ms,
  successThreshold: z.number().int().min(1),
  halfOpenMaxProbes: z.number().int().min(1),
  probeTimeoutMs: Ms.min(1),
  halfOpenMaxDurationMs: Ms,
  probeSample: z
    .strictObject({
      calls: z.number().int().min(1),
      failureRateBasisPoints: z.number().int().min(1).max(10_000),
    })
    .nullable(),
  adaptive: z
    .array(
      z.strictObject({
        minRequestsPerMinute: z.number().int().min(1),
        failureThreshold: z.number().int().min(1),
      }),
    )
    .readonly(),
});

/** Where a secret comes from once compiled; `value` appears only in controller-delivered snapshots. */
export const CredentialRefSchema = z.discriminatedUnion('source', [
  z.strictObject({ source: z.literal('secret'), name: z.string(), key: z.string() }),
  z.strictObject({ source: z.literal('env'), name: z.string() }),
  z.strictObject({ source: z.literal('file'), path: z.string() }),
  z.strictObject({ source: z.literal('value'), value: z.string() }),
]);

const CompiledUpstream = z.strictObject({
  name: z.string(),
  provider: z.enum(PROVIDERS),
  baseURL: z.string(),
  /** azure-openai api-version / anthropic-version, defaulted; null for OpenAI-style providers. */
  apiVersion: z.string().nullable(),
  apiKey: CredentialRefSchema.nullable(),
  timeouts: z.strictObject({ connectMs: Ms, firstByteMs: Ms, idleMs: Ms, totalMs: Ms }),
  /** Upper bound of concurrent connections to this upstream; past it the sidecar answers 503. */
  maxConnections: z.number().int().min(1),
});

const CompiledTarget = z.strictObject({
  upstream: z.string(),
  model: z.string().nullable(),
  modelMap: z.record(z.string(), z.string()).nullable(),
});

const EndpointBreakers = z.strictObject(
  Object.fromEntries(ENDPOINT_CLASSES.map((c) => [c, BreakerConfigSchema])) as Record<
    (typeof ENDPOINT_CLASSES)[number],
    typeof BreakerConfigSchema
  >,
);

export const PolicySnapshotSchema = z.strictObject({
  schemaVersion: z.literal(SNAPSHOT_SCHEMA_VERSION),
  /** sha256 of the canonical JSON of every other field; equal hashes mean equal behaviour. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  policy: z.strictObject({
    namespace: z.string(),
    name: z.string(),
    generation: z.number().int().min(0),
  }),
  defaultUpstream: z.string(),
  upstreams: z.array(CompiledUpstream).min(1),
  breaker: z.strictObject({
    keyBy: z.enum(['upstream', 'endpoint', 'model']),
    /** spec.breaker alone: the settings of a breaker kept per upstream (keyBy upstream). */
    base: BreakerConfigSchema,
    /** Fully merged settings per endpoint class (spec.breaker plus spec.breaker.endpoints.*). */
    endpoints: EndpointBreakers,
  }),
  failOn: z.strictObject({
    statusCodes: z.array(z.number().int()),
    timeouts: z.boolean(),
    connectionErrors: z.boolean(),
    rateLimits: z.boolean(),
    authErrors: z.boolean(),
  }),
  /** Fallback chain per requested upstream (upstreams without one map to []). */
  fallbacks: z.record(z.string(), z.array(CompiledTarget)),
  cache: z.strictObject({
    enabled: z.boolean(),
    ttlMs: Ms,
    maxEntries: z.number().int(),
    maxBytes: z.number().int(),
  }),
  alerting: z.strictObject({
    on: z.array(z.enum(ALERT_EVENTS)),
    webhooks: z.array(CredentialRefSchema),
    slack: CredentialRefSchema.nullable(),
    dedupWindowMs: Ms,
  }),
  fleet: z.strictObject({ mode: z.enum(['local', 'shared']) }),
  /** Bundled default prices with spec.pricing on top (USD per million tokens). */
  pricing: z.record(
    z.string(),
    z.strictObject({ inputPerMillion: z.number().min(0), outputPerMillion: z.number().min(0) }),
  ),
  routing: z.strictObject({
    strategy: z.enum(['ordered', 'least-cost']),
    maxCostMultiplier: z.number().min(1).nullable(),
  }),
  retry: z.strictObject({
    attempts: z.number().int().min(0),
    retryOn: z.array(z.enum(RETRY_ON)),
    backoffBaseMs: Ms.min(1),
    backoffMaxMs: Ms.min(1),
    maxRetryAfterMs: Ms,
    budget: z.strictObject({
      percent: z.number().int().min(1).max(100),
      windowMs: Ms.min(1),
      minRetries: z.number().int().min(0),
    }),
  }),
  overrides: z.array(
    z.strictObject({
      upstream: z.string(),
      endpoint: z.enum(ENDPOINT_CLASSES).nullable(),
      state: z.enum(['forcedOpen', 'forcedClosed']),
      untilWallMs: z.number().nullable(),
      reason: z.string().nullable(),
    }),
  ),
  /**
   * Set only on the pass-through snapshot a sidecar derives for itself when no policy governs
   * its pod any more (pass-through-snapshot.ts); the controller never sends it, so older
   * sidecars never see the field.
   */
  passThrough: z
    .strictObject({
      /** The policy that governed the pod before. */
      formerPolicy: z.strictObject({ namespace: z.string(), name: z.string() }),
      /** Wall time the sidecar was released. */
      sinceWallMs: z.number(),
    })
    .optional(),
});

export type PolicySnapshot = z.output<typeof PolicySnapshotSchema>;
export type CompiledUpstream = z.output<typeof CompiledUpstream>;
export type CompiledTarget = z.output<typeof CompiledTarget>;
export type CredentialRef = z.output<typeof CredentialRefSchema>;
export type SnapshotOverride = PolicySnapshot['overrides'][number];

// The zod schema above and the engine's BreakerConfig interface must describe the same shape.
// (One-way assignability plus equal key sets: the interface is deeply readonly, the schema is not.)
type Agree<A, B> = [A] extends [B]
  ? [keyof A] extends [keyof B]
    ? [keyof B] extends [keyof A]
      ? true
      : false
    : false
  : false;
type Expect<T extends true> = T;
/** Compile-time proof that the snapshot schema and the engine agree on BreakerConfig. */
export type BreakerShapesAgree = Expect<Agree<z.output<typeof BreakerConfigSchema>, BreakerConfig>>;
