/**
 * The names and bounds of the AICircuitPolicy resource that other contracts share: its API
 * identity, the endpoint classes, providers, alert events and retryable failure kinds, and the
 * list bounds the CRD's CEL rules are costed against. No zod here, so the compiled snapshot
 * (src/snapshot/) and the sidecar can use them without loading the resource's schemas.
 */
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

/** Transitions that can raise an alert (spec.alerting.events). */
export const ALERT_EVENTS = ['opened', 'halfOpen', 'closed', 'allTargetsOpen'] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** Failure kinds spec.retry.retryOn may name. */
export const RETRY_ON = [
  'server_error',
  'overloaded',
  'rate_limited',
  'connect_timeout',
  'first_byte_timeout',
  'connection_error',
] as const;

// Sized for a shared gateway-style policy (issue 11: at least 128 upstreams with chains). The
// CRD's CEL rules are costed by the API server against these bounds, so every rule that walks
// two of these lists must stay within its static cost budget (test/cluster/crd.test.ts applies
// a policy at this size to a real API server).
export const MAX_UPSTREAMS = 256;
export const MAX_FALLBACK_TARGETS = 8;
/** Default of spec.upstreams[].maxConnections: far above what a pod opens, so nothing queues. */
export const DEFAULT_MAX_CONNECTIONS = 4096;
