import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/snapshot/compile-snapshot.ts';
import { passThroughSnapshot } from '../../../src/snapshot/pass-through-snapshot.ts';
import { PolicySnapshotSchema } from '../../../src/snapshot/snapshot.ts';
import { validatePolicy } from '../../../src/policy/validate-policy.ts';

function governed() {
  const validation = validatePolicy({
    apiVersion: 'aicircuit.io/v1alpha1',
    kind: 'AICircuitPolicy',
    metadata: { name: 'egress', namespace: 'shop' },
    spec: {
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' },
        {
          name: 'anthropic',
          provider: 'anthropic',
          baseURL: 'https://api.anthropic.com',
          apiKey: { secretKeyRef: { name: 'anthropic', key: 'api-key' } },
        },
      ],
      fallbacks: [{ from: 'openai', to: [{ upstream: 'anthropic', model: 'claude-sonnet-4-6' }] }],
      retry: { attempts: 2 },
      overrides: [{ upstream: 'openai', state: 'forcedOpen', reason: 'INC-1' }],
      alerting: { webhooks: [{ url: { secretKeyRef: { name: 'alerts', key: 'url' } } }] },
    },
  });
  if (!validation.ok) throw new Error(JSON.stringify(validation.problems));
  return compilePolicy(validation.policy, {
    resolveSecret: (name) => (name === 'anthropic' ? 'sk-ant-secret' : 'https://hooks.example/x'),
  });
}

describe('pass-through snapshot (no policy governs the pod)', () => {
  it('keeps the upstream addresses and drops everything the policy enforced or supplied', () => {
    const before = governed();
    const after = passThroughSnapshot(before, 1_000);
    expect(PolicySnapshotSchema.safeParse(after).success).toBe(true);
    expect(after.hash).not.toBe(before.hash);
    expect(after.upstreams.map((u) => [u.name, u.baseURL, u.apiKey])).toEqual([
      ['openai', 'https://api.openai.com', null],
      ['anthropic', 'https://api.anthropic.com', null],
    ]);
    // The forcedOpen override ends with the policy: every circuit is forced closed instead.
    expect(after.overrides.map((o) => [o.upstream, o.state, o.untilWallMs])).toEqual([
      ['openai', 'forcedClosed', null],
      ['anthropic', 'forcedClosed', null],
    ]);
    expect(after.fallbacks).toEqual({ openai: [], anthropic: [] });
    expect(after.retry.attempts).toBe(0);
    expect(after.alerting).toMatchObject({ on: [], webhooks: [], slack: null });
    expect(after.upstreams.every((u) => u.timeouts.totalMs >= 600_000)).toBe(true);
    expect(after.passThrough).toEqual({
      formerPolicy: { namespace: 'shop', name: 'egress' },
      sinceWallMs: 1_000,
    });
    // No resolved Secret value survives anywhere in it (memory, the state file).
    const text = JSON.stringify(after);
    expect(text).not.toContain('sk-ant-secret');
    expect(text).not.toContain('hooks.example');
  });

  it('remembers the first policy when derived again', () => {
    const once = passThroughSnapshot(governed(), 1_000);
    expect(passThroughSnapshot(once, 2_000).passThrough?.formerPolicy).toEqual({
      namespace: 'shop',
      name: 'egress',
    });
  });
});
