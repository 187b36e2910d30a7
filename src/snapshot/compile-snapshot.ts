/**
 * Compiles a validated AICircuitPolicy into the snapshot a sidecar runs. Pure and
 * deterministic: the same policy (and secret values) always yields the same snapshot and hash.
 */
import type { BreakerConfig } from '../breaker/breaker-config.ts';
import { contentHash } from '../shared/content-hash.ts';
import { DEFAULT_PRICING } from '../policy/default-pricing.ts';
import { parseDurationMs } from '../policy/duration.ts';
import {
  ENDPOINT_CLASSES,
  type AICircuitPolicy,
  type BreakerSpec,
  type CredentialSourceSpec,
  type EndpointBreakerSpec,
  type EndpointClass,
  type UpstreamSpec,
} from '../policy/policy-schema.ts';
import {
  SNAPSHOT_SCHEMA_VERSION,
  type CompiledUpstream,
  type CredentialRef,
  type PolicySnapshot,
} from './snapshot.ts';

/** API versions used when an upstream does not name one. */
export const DEFAULT_API_VERSIONS = {
  'azure-openai': '2024-10-21',
  anthropic: '2023-06-01',
} as const;

/** The most buckets a window is split into; a 60 s window slides in 1 s steps. */
const MAX_WINDOW_BUCKETS = 60;

export interface CompileOptions {
  /**
   * Resolves a Secret key of the policy's namespace. The controller passes one; without it
   * secretKeyRef credentials stay references, which a standalone sidecar reports as unusable.
   */
  readonly resolveSecret?: (name: string, key: string) => string | undefined;
}

/** Builds the snapshot for a validated policy. */
export function compilePolicy(
  policy: AICircuitPolicy,
  options: CompileOptions = {},
): PolicySnapshot {
  const { spec } = policy;
  const credential = (source: CredentialSourceSpec): CredentialRef =>
    compileCredential(source, options);
  const body: Omit<PolicySnapshot, 'hash'> = {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    policy: {
      namespace: policy.metadata.namespace ?? 'default',
      name: policy.metadata.name,
      generation: policy.metadata.generation ?? 0,
    },
    defaultUpstream: spec.defaultUpstream ?? firstUpstream(spec.upstreams).name,
    upstreams: spec.upstreams.map((u) => compileUpstream(u, credential)),
    breaker: {
      keyBy: spec.breaker.keyBy,
      base: compileBreaker(spec.breaker),
      endpoints: Object.fromEntries(
        ENDPOINT_CLASSES.map((c) => [c, compileBreaker(spec.breaker, spec.breaker.endpoints?.[c])]),
      ) as Record<EndpointClass, BreakerConfig>,
    },
    failOn: {
      ...spec.failOn,
      statusCodes: [...new Set(spec.failOn.statusCodes)].sort((a, b) => a - b),
    },
    fallbacks: Object.fromEntries(
      spec.upstreams.map((u) => [
        u.name,
        (spec.fallbacks?.find((f) => f.from === u.name)?.to ?? []).map((t) => ({
          upstream: t.upstream,
          model: t.model ?? null,
          modelMap: t.modelMap ?? null,
        })),
      ]),
    ),
    cache: {
      enabled: spec.cache.enabled,
      ttlMs: ms(spec.cache.ttl),
      maxEntries: spec.cache.maxEntries,
      maxBytes: spec.cache.maxBytes,
    },
    alerting: {
      // The snapshot keeps `on`: JSON has no YAML 1.1 trap, and renaming it would be a new
      // snapshot schema version for nothing.
      on: [...new Set(spec.alerting.events)],
      webhooks: (spec.alerting.webhooks ?? []).map((w) => credential(w.url)),
      slack: spec.alerting.slack === undefined ? null : credential(spec.alerting.slack.webhookURL),
      dedupWindowMs: ms(spec.alerting.dedupWindow),
    },
    fleet: { mode: spec.fleet.mode },
    pricing: { ...DEFAULT_PRICING, ...spec.pricing },
    routing: {
      strategy: spec.routing.strategy,
      maxCostMultiplier: spec.routing.maxCostMultiplier ?? null,
    },
    retry: {
      attempts: spec.retry.attempts,
      retryOn: [...new Set(spec.retry.retryOn)],
      backoffBaseMs: ms(spec.retry.backoff.base),
      backoffMaxMs: Math.max(ms(spec.retry.backoff.max), ms(spec.retry.backoff.base)),
      maxRetryAfterMs: ms(spec.retry.maxRetryAfter),
      budget: {
        percent: spec.retry.budget.percent,
        windowMs: ms(spec.retry.budget.window),
        minRetries: spec.retry.budget.minRetries,
      },
    },
    overrides: (spec.overrides ?? []).map((o) => ({
      upstream: o.upstream,
      endpoint: o.endpoint ?? null,
      state: o.state,
      untilWallMs: o.until === undefined ? null : Date.parse(o.until),
      reason: o.reason ?? null,
    })),
  };
  return { ...body, hash: contentHash(body) };
}

/** Merges an endpoint override onto spec.breaker and converts it to engine units. */
export function compileBreaker(base: BreakerSpec, override?: EndpointBreakerSpec): BreakerConfig {
  const windowMs = ms(override?.window ?? base.window);
  const backoff = {
    multiplier: override?.recoveryBackoff?.multiplier ?? base.recoveryBackoff.multiplier,
    max: override?.recoveryBackoff?.max ?? base.recoveryBackoff.max,
    jitter: override?.recoveryBackoff?.jitter ?? base.recoveryBackoff.jitter,
  };
  const recoveryTimeoutMs = ms(override?.recoveryTimeout ?? base.recoveryTimeout);
  // An endpoint override may raise recoveryTimeout above the inherited cap; the cap never
  // shortens the first open period.
  const maxMs = Math.max(ms(backoff.max), recoveryTimeoutMs);
  const failureRate = override?.failureRate ?? base.failureRate;
  const slowCall = override?.slowCall ?? base.slowCall;
  return {
    failureThreshold: override?.failureThreshold ?? base.failureThreshold,
    windowMs,
    windowBuckets: Math.min(MAX_WINDOW_BUCKETS, Math.max(1, Math.round(windowMs / 1000))),
    failureRate:
      failureRate === undefined
        ? null
        : { basisPoints: failureRate.percent * 100, minimumRequests: failureRate.minimumRequests },
    slowCall:
      slowCall === undefined
        ? null
        : {
            basisPoints: slowCall.percent * 100,
            minimumRequests: slowCall.minimumRequests,
            durationMs: ms(slowCall.threshold),
          },
    recoveryTimeoutMs,
    recoveryBackoff: { multiplier: backoff.multiplier, maxMs, jitter: backoff.jitter },
    // Retry-After may hold a circuit open longer than the backoff would, but no longer than
    // its cap: a provider asking for an hour should not silence it for an hour.
    maxRetryAfterMs: maxMs,
    attemptResetAfterMs: maxMs,
    successThreshold: override?.successThreshold ?? base.successThreshold,
    halfOpenMaxProbes: override?.halfOpenMaxProbes ?? base.halfOpenMaxProbes,
    probeTimeoutMs: ms(override?.probeTimeout ?? base.probeTimeout),
    halfOpenMaxDurationMs: 0,
    probeSample: null,
    adaptive: [...(base.adaptive ?? [])].sort(
      (a, b) => a.minRequestsPerMinute - b.minRequestsPerMinute,
    ),
  };
}

function compileUpstream(
  u: UpstreamSpec,
  credential: (source: CredentialSourceSpec) => CredentialRef,
): CompiledUpstream {
  return {
    name: u.name,
    provider: u.provider,
    baseURL: u.baseURL.replace(/\/+$/, ''),
    apiVersion:
      u.apiVersion ??
      (u.provider === 'azure-openai' || u.provider === 'anthropic'
        ? DEFAULT_API_VERSIONS[u.provider]
        : null),
    apiKey: u.apiKey === undefined ? null : credential(u.apiKey),
    timeouts: {
      connectMs: ms(u.timeouts.connect),
      firstByteMs: ms(u.timeouts.firstByte),
      idleMs: ms(u.timeouts.idle),
      totalMs: ms(u.timeouts.total),
    },
    maxConnections: u.maxConnections,
  };
}

function compileCredential(source: CredentialSourceSpec, options: CompileOptions): CredentialRef {
  if (source.env !== undefined) return { source: 'env', name: source.env };
  if (source.file !== undefined) return { source: 'file', path: source.file };
  if (source.secretKeyRef !== undefined) {
    const { name, key } = source.secretKeyRef;
    const value = options.resolveSecret?.(name, key);
    return value === undefined ? { source: 'secret', name, key } : { source: 'value', value };
  }
  // Unreachable for validated input: the exactly-one rule ran before compilation.
  throw new TypeError('credential source has none of secretKeyRef, env, file');
}

function firstUpstream(upstreams: readonly UpstreamSpec[]): UpstreamSpec {
  const first = upstreams[0];
  if (first === undefined) throw new TypeError('a validated policy has at least one upstream');
  return first;
}

/** Durations were validated at the edge, so a parse failure here is a programming error. */
function ms(duration: string): number {
  const value = parseDurationMs(duration);
  if (value === undefined)
    throw new TypeError(`invalid duration reached the compiler: ${duration}`);
  return value;
}
