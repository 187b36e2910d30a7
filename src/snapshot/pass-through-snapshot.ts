/**
 * What a sidecar runs when no policy governs its pod any more (its policy was deleted, or its
 * labels no longer match): a transparent pass-through. Each upstream keeps its name and address,
 * so the app's base URLs still work, but nothing of the policy is enforced or kept:
 *
 * - every circuit is forced closed (requests always go to the upstream; failures are still
 *   counted in the metrics, never acted on), so a `forcedOpen` override ends with the policy;
 * - no fallbacks, retries, cache or alerts;
 * - no credential the policy supplied: the app's own credentials pass through, and the
 *   resolved Secret values leave the sidecar's memory and its state file;
 * - timeouts at least as long as the SDKs' own defaults (10 minutes), and a connection limit at
 *   least the default one, so the proxy cuts nothing the app itself would not.
 *
 * A pure function of the snapshot in force, so the sidecar can derive it whenever the controller
 * says "released", also after a controller restart.
 */
import { contentHash } from '../shared/content-hash.ts';
import { DEFAULT_MAX_CONNECTIONS } from '../policy/schema/vocabulary.ts';
import type { PolicySnapshot } from './snapshot.ts';

/** The OpenAI and Anthropic SDKs' default request timeout. */
export const PASS_THROUGH_TIMEOUT_MS = 10 * 60_000;

export function passThroughSnapshot(governed: PolicySnapshot, sinceWallMs: number): PolicySnapshot {
  const formerPolicy = governed.passThrough?.formerPolicy ?? {
    namespace: governed.policy.namespace,
    name: governed.policy.name,
  };
  const body: Omit<PolicySnapshot, 'hash'> = {
    ...withoutHash(governed),
    upstreams: governed.upstreams.map((u) => ({
      ...u,
      apiKey: null,
      timeouts: {
        connectMs: u.timeouts.connectMs,
        firstByteMs: Math.max(u.timeouts.firstByteMs, PASS_THROUGH_TIMEOUT_MS),
        idleMs: Math.max(u.timeouts.idleMs, PASS_THROUGH_TIMEOUT_MS),
        totalMs: Math.max(u.timeouts.totalMs, PASS_THROUGH_TIMEOUT_MS),
      },
      maxConnections: Math.max(u.maxConnections, DEFAULT_MAX_CONNECTIONS),
    })),
    fallbacks: Object.fromEntries(governed.upstreams.map((u) => [u.name, []])),
    cache: { ...governed.cache, enabled: false },
    alerting: { on: [], webhooks: [], slack: null, dedupWindowMs: governed.alerting.dedupWindowMs },
    fleet: { mode: 'local' },
    routing: { strategy: 'ordered', maxCostMultiplier: null },
    retry: { ...governed.retry, attempts: 0, retryOn: [] },
    overrides: governed.upstreams.map((u) => ({
      upstream: u.name,
      endpoint: null,
      state: 'forcedClosed',
      untilWallMs: null,
      reason: `pass-through: no policy governs this pod (was ${formerPolicy.namespace}/${formerPolicy.name})`,
    })),
    passThrough: { formerPolicy, sinceWallMs },
  };
  return { ...body, hash: contentHash(body) };
}

function withoutHash(snapshot: PolicySnapshot): Omit<PolicySnapshot, 'hash'> {
  const copy: Partial<PolicySnapshot> = { ...snapshot };
  delete copy.hash;
  return copy as Omit<PolicySnapshot, 'hash'>;
}
