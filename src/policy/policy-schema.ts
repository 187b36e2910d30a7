/**
 * The AICircuitPolicy resource (`aicircuit.io/v1alpha1`): the single source of truth for its
 * shape. The CRD's OpenAPI schema (with the descriptions `kubectl explain` shows and the CEL
 * rules) is generated from these zod schemas, and the same schemas validate policy files
 * offline. Field names are public contract; change them only with an ADR.
 *
 * The parts live in src/policy/schema/, one module per section of the spec (spec.ts assembles
 * them); the status the controller writes is src/policy/policy-status-schema.ts. This module is
 * the resource itself and the one place callers import the spec's schema and types from.
 */
import { z } from 'zod';
import { PolicyStatusSchema } from './policy-status-schema.ts';
import type { EndpointBreaker } from './schema/breaker.ts';
import type { FallbackTarget } from './schema/fallbacks.ts';
import { PolicySpecSchema } from './schema/spec.ts';
import { API_VERSION_FULL, KIND } from './schema/vocabulary.ts';

export { PolicySpecSchema } from './schema/spec.ts';
export {
  ALERT_EVENTS,
  API_GROUP,
  API_VERSION,
  API_VERSION_FULL,
  DEFAULT_MAX_CONNECTIONS,
  ENDPOINT_CLASSES,
  KIND,
  MAX_FALLBACK_TARGETS,
  MAX_UPSTREAMS,
  PROVIDERS,
  RETRY_ON,
  type AlertEvent,
  type EndpointClass,
  type Provider,
} from './schema/vocabulary.ts';

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
export type UpstreamSpec = PolicySpec['upstreams'][number];
export type CredentialSourceSpec = NonNullable<UpstreamSpec['apiKey']>;
export type BreakerSpec = PolicySpec['breaker'];
export type EndpointBreakerSpec = z.output<typeof EndpointBreaker>;
export type FallbackTargetSpec = z.output<typeof FallbackTarget>;
