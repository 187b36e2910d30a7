import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/snapshot/compile-snapshot.ts';
import { parsePolicyDocuments } from '../../../src/policy/parse-policy-documents.ts';
import type { AICircuitPolicy } from '../../../src/policy/policy-schema.ts';
import { PolicySnapshotSchema } from '../../../src/snapshot/snapshot.ts';
import { validatePolicy } from '../../../src/policy/validate-policy.ts';
import { loadFixtures } from '../../support/fixtures.ts';

function policy(
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = { name: 'p' },
): AICircuitPolicy {
  const result = validatePolicy({
    apiVersion: 'aicircuit.io/v1alpha1',
    kind: 'AICircuitPolicy',
    metadata,
    spec,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.policy;
}

const twoUpstreams = [
  { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com/' },
  {
    name: 'anthropic',
    provider: 'anthropic',
    baseURL: 'https://api.anthropic.com',
    apiKey: { secretKeyRef: { name: 'anthropic', key: 'api-key' } },
  },
];

describe('compilePolicy', () => {
  it('resolves every default into milliseconds as the documentation states them', () => {
    const snap = compilePolicy(policy({ upstreams: twoUpstreams.slice(0, 1) }));
    expect(snap.defaultUpstream).toBe('openai');
    expect(snap.upstreams[0]).toEqual({
      name: 'openai',
      provider: 'openai',
      baseURL: 'https://api.openai.com',
      apiVersion: null,
      apiKey: null,
      timeouts: { connectMs: 5000, firstByteMs: 60_000, idleMs: 30_000, totalMs: 600_000 },
      maxConnections: 4096,
    });
    expect(snap.breaker.keyBy).toBe('endpoint');
    expect(snap.breaker.endpoints.chat).toEqual({
      failureThreshold: 5,
      windowMs: 60_000,
      windowBuckets: 60,
      failureRate: null,
      slowCall: null,
      recoveryTimeoutMs: 30_000,
      recoveryBackoff: { multiplier: 2, maxMs: 300_000, jitter: 0.2 },
      maxRetryAfterMs: 300_000,
      attemptResetAfterMs: 300_000,
      successThreshold: 2,
      halfOpenMaxProbes: 1,
      probeTimeoutMs: 30_000,
      halfOpenMaxDurationMs: 0,
      probeSample: null,
      adaptive: [],
    });
    expect(snap.failOn).toEqual({
      statusCodes: [500, 502, 503, 504, 529],
      timeouts: true,
      connectionErrors: true,
      rateLimits: true,
      authErrors: false,
    });
    expect(snap.cache).toEqual({
      enabled: false,
      ttlMs: 300_000,
      maxEntries: 1000,
      maxBytes: 67_108_864,
    });
    expect(snap.alerting).toEqual({
      on: ['opened', 'closed', 'allTargetsOpen'],
      webhooks: [],
      slack: null,
      dedupWindowMs: 300_000,
    });
    expect(snap.fleet.mode).toBe('local');
    expect(snap.fallbacks).toEqual({ openai: [] });
  });

  it('merges per-endpoint overrides onto spec.breaker and leaves other classes alone', () => {
    const snap = compilePolicy(
      policy({
        upstreams: twoUpstreams,
        breaker: {
          failureRate: { percent: 7, minimumRequests: 100 },
          adaptive: [
            { minRequestsPerMinute: 600, failureThreshold: 40 },
            { minRequestsPerMinute: 100, failureThreshold: 20 },
          ],
          endpoints: {
            embeddings: {
              failureThreshold: 10,
              recoveryTimeout: '10m',
              recoveryBackoff: { jitter: 0 },
            },
          },
        },
      }),
    );
    const { embeddings, chat } = snap.breaker.endpoints;
    expect(embeddings.failureThreshold).toBe(10);
    expect(embeddings.recoveryTimeoutMs).toBe(600_000);
    // The inherited 5m cap never shortens a longer first open period.
    expect(embeddings.recoveryBackoff).toEqual({ multiplier: 2, maxMs: 600_000, jitter: 0 });
    expect(chat.failureThreshold).toBe(5);
    expect(chat.recoveryBackoff.jitter).toBe(0.2);
    expect(chat.failureRate).toEqual({ basisPoints: 700, minimumRequests: 100 });
    expect(chat.adaptive.map((t) => t.minRequestsPerMinute)).toEqual([100, 600]);
  });

  it('indexes fallback chains by upstream with their model mapping', () => {
    const snap = compilePolicy(
      policy({
        upstreams: twoUpstreams,
        fallbacks: [
          {
            from: 'openai',
            to: [{ upstream: 'anthropic', modelMap: { '*': 'claude-sonnet-4-6' } }],
          },
        ],
      }),
    );
    expect(snap.fallbacks).toEqual({
      openai: [{ upstream: 'anthropic', model: null, modelMap: { '*': 'claude-sonnet-4-6' } }],
      anthropic: [],
    });
    expect(snap.upstreams[1]?.apiVersion).toBe('2023-06-01');
  });

  it('keeps secretKeyRef as a reference unless a resolver supplies the value', () => {
    const p = policy({ upstreams: twoUpstreams });
    expect(compilePolicy(p).upstreams[1]?.apiKey).toEqual({
      source: 'secret',
      name: 'anthropic',
      key: 'api-key',
    });
    const resolved = compilePolicy(p, {
      resolveSecret: (name, key) =>
        name === 'anthropic' && key === 'api-key' ? 'sk-ant-test' : undefined,
    });
    expect(resolved.upstreams[1]?.apiKey).toEqual({ source: 'value', value: 'sk-ant-test' });
    // A rotated secret is a different snapshot.
    expect(resolved.hash).not.toBe(compilePolicy(p).hash);
  });

  it('is deterministic: the same policy in another key order has the same hash', () => {
    const a = policy({ upstreams: twoUpstreams, breaker: { window: '30s', failureThreshold: 3 } });
    const b = policy({ breaker: { failureThreshold: 3, window: '30s' }, upstreams: twoUpstreams });
    expect(compilePolicy(a).hash).toBe(compilePolicy(b).hash);
    expect(compilePolicy(a).hash).toMatch(/^[0-9a-f]{64}$/);
    const c = policy({ upstreams: twoUpstreams, breaker: { window: '31s', failureThreshold: 3 } });
    expect(compilePolicy(c).hash).not.toBe(compilePolicy(a).hash);
  });

  it('produces snapshots that pass the sidecar-side snapshot schema for every valid fixture', () => {
    for (const fixture of loadFixtures().filter((f) => f.valid)) {
      const [doc] = parsePolicyDocuments(fixture.text);
      if (!doc?.result.ok) throw new Error(`${fixture.file} invalid`);
      const snap = compilePolicy(doc.result.policy);
      expect(PolicySnapshotSchema.safeParse(snap).success, fixture.file).toBe(true);
    }
  });

  it('converts override expiry to wall-clock milliseconds', () => {
    const snap = compilePolicy(
      policy({
        upstreams: twoUpstreams,
        overrides: [{ upstream: 'openai', state: 'forcedOpen', until: '2026-12-01T00:00:00Z' }],
      }),
    );
    expect(snap.overrides).toEqual([
      {
        upstream: 'openai',
        endpoint: null,
        state: 'forcedOpen',
        untilWallMs: Date.UTC(2026, 11, 1),
        reason: null,
      },
    ]);
  });
});
