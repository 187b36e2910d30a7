import { describe, expect, it } from 'vitest';
import { selectorMatches } from '../../../src/controlplane/reconcile/label-selector.ts';
import type { PodObject, PolicyObject } from '../../../src/controlplane/kube/resources.ts';
import { governingPolicy, reconcile } from '../../../src/controlplane/reconcile/reconcile.ts';

function policy(
  name: string,
  spec: Record<string, unknown>,
  created = '2026-01-01T00:00:00Z',
  namespace = 'shop',
  generation = 1,
): PolicyObject {
  return {
    apiVersion: 'aicircuit.io/v1alpha1',
    kind: 'AICircuitPolicy',
    metadata: { name, namespace, generation, creationTimestamp: created },
    spec,
  };
}

const upstreams = [
  { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' },
  {
    name: 'anthropic',
    provider: 'anthropic',
    baseURL: 'https://api.anthropic.com',
    apiKey: { secretKeyRef: { name: 'anthropic', key: 'api-key' } },
  },
];
const pod = (name: string, labels: Record<string, string>, namespace = 'shop'): PodObject => ({
  metadata: { namespace, name, labels },
});
const secrets: Record<string, string> = {
  'shop/anthropic/api-key': 'sk-ant-shop',
  'other/anthropic/api-key': 'sk-ant-other',
};
const readSecret = (ns: string, name: string, key: string) => secrets[`${ns}/${name}/${key}`];

describe('label selectors', () => {
  it('follows metav1.LabelSelector semantics', () => {
    const labels = { app: 'api', tier: 'web' };
    expect(selectorMatches({}, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'api' } }, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'x' } }, labels)).toBe(false);
    expect(
      selectorMatches(
        { matchExpressions: [{ key: 'tier', operator: 'In', values: ['web', 'db'] }] },
        labels,
      ),
    ).toBe(true);
    expect(
      selectorMatches(
        { matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] },
        labels,
      ),
    ).toBe(false);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels),
    ).toBe(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels),
    ).toBe(false);
  });
});

describe('reconcile', () => {
  it('gives each selected pod the compiled snapshot, with Secrets of the policy namespace only', () => {
    const result = reconcile({
      policies: [policy('egress', { podSelector: { matchLabels: { app: 'api' } }, upstreams })],
      pods: [
        pod('api-1', { app: 'api' }),
        pod('worker-1', { app: 'worker' }),
        pod('api-x', { app: 'api' }, 'other'),
      ],
      readSecret,
      lastGood: new Map(),
    });
    expect([...result.pods.keys()]).toEqual(['shop/api-1']);
    const snapshot = result.pods.get('shop/api-1')?.snapshot;
    expect(snapshot?.upstreams[1]?.apiKey).toEqual({ source: 'value', value: 'sk-ant-shop' });
    expect(snapshot?.policy).toEqual({ namespace: 'shop', name: 'egress', generation: 1 });
    const verdict = result.policies.get('shop/egress');
    expect(verdict?.accepted).toBe(true);
    expect(verdict?.pods).toEqual(['shop/api-1']);
  });

  it('is deterministic: the same input gives the same hashes whatever the input order', () => {
    const policies = [
      policy('a', { upstreams }, '2026-01-01T00:00:00Z'),
      policy(
        'b',
        { podSelector: { matchLabels: { app: 'x' } }, upstreams },
        '2026-01-02T00:00:00Z',
      ),
    ];
    const pods = [pod('p1', { app: 'x' }), pod('p2', {})];
    const one = reconcile({ policies, pods, readSecret, lastGood: new Map() });
    const two = reconcile({
      policies: [...policies].reverse(),
      pods: [...pods].reverse(),
      readSecret,
      lastGood: new Map(),
    });
    expect([...two.pods.entries()].map(([k, v]) => [k, v.policy, v.snapshot.hash])).toEqual(
      [...one.pods.entries()].map(([k, v]) => [k, v.policy, v.snapshot.hash]),
    );
  });

  it('reports overlapping policies and lets the older one govern the shared pods', () => {
    const result = reconcile({
      policies: [
        policy(
          'newer',
          { podSelector: { matchLabels: { app: 'api' } }, upstreams },
          '2026-02-01T00:00:00Z',
        ),
        policy('older', { upstreams }, '2026-01-01T00:00:00Z'),
      ],
      pods: [pod('api-1', { app: 'api' }), pod('web-1', { app: 'web' })],
      readSecret,
      lastGood: new Map(),
    });
    expect(result.pods.get('shop/api-1')?.policy).toBe('shop/older');
    expect(result.policies.get('shop/older')?.overlapping).toEqual(['newer']);
    expect(result.policies.get('shop/newer')?.overlapping).toEqual(['older']);
    expect(result.policies.get('shop/newer')?.pods).toEqual([]);
  });

  it('rejects an invalid change with the message and keeps serving the last good snapshot', () => {
    const good = reconcile({
      policies: [policy('egress', { upstreams })],
      pods: [pod('api-1', {})],
      readSecret,
      lastGood: new Map(),
    });
    const goodHash = good.pods.get('shop/api-1')?.snapshot.hash;
    const bad = reconcile({
      policies: [
        policy(
          'egress',
          { upstreams, fallbacks: [{ from: 'openai', to: [{ upstream: 'gemini' }] }] },
          undefined,
          'shop',
          2,
        ),
      ],
      pods: [pod('api-1', {})],
      readSecret,
      lastGood: good.lastGood,
    });
    const verdict = bad.policies.get('shop/egress');
    expect(verdict?.accepted).toBe(false);
    if (verdict?.accepted !== false) return;
    expect(verdict.reason).toBe('Invalid');
    expect(verdict.message).toContain(
      'spec.fallbacks[0].to[0].upstream: fallback targets must name one of spec.upstreams',
    );
    expect(verdict.generation).toBe(2);
    expect(bad.pods.get('shop/api-1')?.snapshot.hash).toBe(goodHash);
  });

  it('rejects a policy whose Secret is missing, naming the keys, without leaking other namespaces', () => {
    const result = reconcile({
      policies: [policy('egress', { upstreams }, undefined, 'empty')],
      pods: [pod('p', {}, 'empty')],
      readSecret,
      lastGood: new Map(),
    });
    const verdict = result.policies.get('empty/egress');
    expect(verdict).toMatchObject({
      accepted: false,
      reason: 'SecretNotFound',
      message: 'Secret keys not found in namespace empty: anthropic/api-key',
    });
    expect(result.pods.size).toBe(0);
  });

  it('forgets deleted policies', () => {
    const first = reconcile({
      policies: [policy('egress', { upstreams })],
      pods: [],
      readSecret,
      lastGood: new Map(),
    });
    const second = reconcile({
      policies: [],
      pods: [pod('p', {})],
      readSecret,
      lastGood: first.lastGood,
    });
    expect(second.lastGood.size).toBe(0);
    expect(second.pods.size).toBe(0);
  });

  it('answers the injector with the policy reconcile assigns, for pods that do not exist yet', () => {
    const result = reconcile({
      policies: [
        policy(
          'newer',
          { podSelector: { matchLabels: { app: 'api' } }, upstreams },
          '2026-02-01T00:00:00Z',
        ),
        policy('older', { podSelector: { matchLabels: { tier: 'web' } }, upstreams }),
      ],
      pods: [pod('both', { app: 'api', tier: 'web' }), pod('api-only', { app: 'api' })],
      readSecret,
      lastGood: new Map(),
    });
    for (const [podKey, labels] of [
      ['shop/both', { app: 'api', tier: 'web' }],
      ['shop/api-only', { app: 'api' }],
    ] as const) {
      expect(governingPolicy(result, 'shop', labels)?.key).toBe(result.pods.get(podKey)?.policy);
    }
    expect(governingPolicy(result, 'shop', { app: 'none' })).toBeUndefined();
    expect(governingPolicy(result, 'other', { app: 'api' })).toBeUndefined();
  });

  it('tells a shadowed policy which older policy governs the pods it selects', () => {
    const result = reconcile({
      policies: [
        policy('newer', { upstreams }, '2026-02-01T00:00:00Z'),
        policy('older', { podSelector: { matchLabels: { app: 'api' } }, upstreams }),
      ],
      pods: [pod('api-1', { app: 'api' }), pod('web-1', { app: 'web' })],
      readSecret,
      lastGood: new Map(),
    });
    expect(result.policies.get('shop/newer')).toMatchObject({
      shadowedBy: ['older'],
      selected: 2,
      pods: ['shop/web-1'],
    });
    expect(result.policies.get('shop/older')).toMatchObject({ shadowedBy: [], selected: 1 });
  });

  it('calls a pod ungoverned only when every policy of its namespace has a known selector', () => {
    const known = reconcile({
      policies: [policy('egress', { podSelector: { matchLabels: { app: 'api' } }, upstreams })],
      pods: [pod('api-1', { app: 'api' }), pod('web-1', { app: 'web' }), pod('x', {}, 'other')],
      readSecret,
      lastGood: new Map(),
    });
    expect([...known.ungoverned].sort()).toEqual(['other/x', 'shop/web-1']);
    // An invalid policy never accepted: nobody knows whom it meant to select, so nobody in its
    // namespace is released.
    const unknown = reconcile({
      policies: [policy('broken', { upstreams: [] })],
      pods: [pod('web-1', { app: 'web' }), pod('x', {}, 'other')],
      readSecret,
      lastGood: new Map(),
    });
    expect([...unknown.ungoverned]).toEqual(['other/x']);
  });

  it('tells a missing Secret from one the controller may not read, and keeps the upstream names', () => {
    const result = reconcile({
      policies: [policy('egress', { upstreams }, undefined, 'locked')],
      pods: [],
      readSecret,
      secretsReadable: (namespace) => namespace !== 'locked',
      lastGood: new Map(),
    });
    expect(result.policies.get('locked/egress')).toMatchObject({
      accepted: false,
      reason: 'SecretNotReadable',
      upstreams: ['openai', 'anthropic'],
    });
  });
});
