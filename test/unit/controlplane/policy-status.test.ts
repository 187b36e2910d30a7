import { describe, expect, it } from 'vitest';
import type { PolicyObject } from '../../../src/controlplane/kube/resources.ts';
import { reconcile } from '../../../src/controlplane/reconcile/reconcile.ts';
import { policyEvents, policyMarks } from '../../../src/controlplane/status/policy-events.ts';
import type { SidecarSession } from '../../../src/controlplane/delivery/sidecar-hub.ts';
import {
  computePolicyStatus,
  degradedMessage,
  listedCircuits,
  STATUS_CIRCUITS_MAX,
  upstreamsColumn,
} from '../../../src/controlplane/status/policy-status.ts';
import { largeUpstreamName } from '../../support/large-policy.ts';

const upstreams = [
  { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' },
  {
    name: 'anthropic',
    provider: 'anthropic',
    baseURL: 'https://api.anthropic.com',
    apiKey: { secretKeyRef: { name: 'anthropic', key: 'api-key' } },
  },
];
const policy = (name: string, spec: object, created: string, generation = 1): PolicyObject => ({
  apiVersion: 'aicircuit.io/v1alpha1',
  kind: 'AICircuitPolicy',
  metadata: { name, namespace: 'shop', generation, creationTimestamp: created },
  spec,
});

function statusOf(policies: PolicyObject[], name: string, secrets: Record<string, string> = {}) {
  const result = reconcile({
    policies,
    pods: [{ metadata: { namespace: 'shop', name: 'api-1', labels: { app: 'api' } } }],
    readSecret: (_ns, n, k) => secrets[`${n}/${k}`],
    lastGood: new Map(),
  });
  const verdict = result.policies.get(`shop/${name}`);
  if (verdict === undefined) throw new Error('no verdict');
  return computePolicyStatus({
    verdict,
    upstreams: verdict.accepted ? verdict.snapshot.upstreams.map((u) => u.name) : verdict.upstreams,
    sessions: [],
    expectedHash: verdict.accepted ? verdict.snapshot.hash : undefined,
    nowWallMs: 0,
  });
}
const condition = (status: ReturnType<typeof statusOf>, type: string) =>
  status.conditions?.find((c) => c.type === type);

describe('policy status', () => {
  it('is not Ready while not Accepted, even with no sidecar selected, and still names its upstreams', () => {
    const status = statusOf(
      [policy('egress', { podSelector: { matchLabels: { app: 'none' } }, upstreams }, 't1')],
      'egress',
    );
    expect(condition(status, 'Accepted')).toMatchObject({
      status: 'False',
      reason: 'SecretNotFound',
    });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'NotAccepted' });
    expect(status.upstreams).toBe('openai,anthropic');
  });

  it('is not Ready when an older policy governs the pods it selects', () => {
    const secrets = { 'anthropic/api-key': 'sk' };
    const policies = [
      policy('older', { upstreams }, '2026-01-01T00:00:00Z'),
      policy(
        'newer',
        { podSelector: { matchLabels: { app: 'api' } }, upstreams },
        '2026-02-01T00:00:00Z',
      ),
    ];
    const newer = statusOf(policies, 'newer', secrets);
    expect(condition(newer, 'Accepted')?.status).toBe('True');
    expect(condition(newer, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Shadowed',
      message:
        '1 of the 1 pods it selects are governed by the older policy older (the oldest policy that selects a pod governs it).',
    });
    expect(condition(statusOf(policies, 'older', secrets), 'Ready')?.status).toBe('False');
    expect(condition(statusOf(policies, 'older', secrets), 'Ready')?.reason).toBe('Propagating');
  });
});

describe('policy Events', () => {
  it('warns once per rejection (again for a new generation or reason) and once per shadowing', () => {
    const rejected = statusOf([policy('egress', { upstreams }, 't1')], 'egress');
    const first = policyEvents(policyMarks(undefined), rejected);
    expect(first).toEqual([
      {
        type: 'Warning',
        reason: 'PolicyRejected',
        message: 'SecretNotFound: Secret keys not found in namespace shop: anthropic/api-key',
      },
    ]);
    expect(policyEvents(policyMarks(rejected), rejected)).toEqual([]);
    const nextGeneration = statusOf([policy('egress', { upstreams }, 't1', 2)], 'egress');
    expect(policyEvents(policyMarks(rejected), nextGeneration)).toHaveLength(1);
    const shadowed = statusOf(
      [
        policy('older', { upstreams: [upstreams[0]] }, '2026-01-01T00:00:00Z'),
        policy('newer', { upstreams: [upstreams[0]] }, '2026-02-01T00:00:00Z'),
      ],
      'newer',
    );
    expect(policyEvents(policyMarks(undefined), shadowed)).toEqual([
      expect.objectContaining({ type: 'Warning', reason: 'PolicyShadowed' }),
    ]);
    expect(policyEvents(policyMarks(shadowed), shadowed)).toEqual([]);
  });
});

describe('status.upstreams', () => {
  it('lists every name when they fit', () => {
    expect(upstreamsColumn(['openai', 'anthropic'])).toBe('openai,anthropic');
  });

  it('keeps a long list within the schema bound and says how many names it left out', () => {
    const names = Array.from({ length: 256 }, (_, i) => largeUpstreamName(i));
    const column = upstreamsColumn(names);
    expect(column.length).toBeLessThanOrEqual(2048);
    // 63-character names plus a comma: 31 fit next to the suffix.
    expect(column).toBe(`${names.slice(0, 31).join(',')},… +225`);
  });

  it('stops before a name that would leave no room for the suffix', () => {
    expect(upstreamsColumn(['aaaa', 'bbbb', 'cccc', 'dddd'], 17)).toBe('aaaa,bbbb,… +2');
    expect(upstreamsColumn(['aaaa', 'bbbb', 'cccc'], 14)).toBe('aaaa,bbbb,cccc');
  });
});

describe('status of a fleet-wide outage over many circuits', () => {
  // 300 upstreams, one endpoint class each; the last 30 by name are open in the one sidecar.
  const names = Array.from({ length: 300 }, (_, i) => `up-${String(i).padStart(3, '0')}`);
  const session: SidecarSession = {
    id: 1,
    pod: 'shop/api-1',
    namespace: 'shop',
    connectedAtWallMs: 0,
    sentHash: 'h',
    sentPolicy: undefined,
    released: false,
    sentChangedAtWallMs: 0,
    ackedHash: 'h',
    rejectedHash: undefined,
    problems: [],
    report: {
      hash: 'h',
      transitions: [],
      circuits: names.map((upstream, i) => ({
        key: `${upstream}/chat`,
        upstream,
        endpoint: 'chat',
        state: i >= 270 ? ('open' as const) : ('closed' as const),
        openings: i >= 270 ? 1 : 0,
        lastTransitionWallMs: i >= 270 ? 1_000 : null,
      })),
    },
    lastTransitions: new Map(),
  };
  const status = () => {
    const result = reconcile({
      policies: [
        policy('egress', { podSelector: { matchLabels: { app: 'api' } }, upstreams }, 't0'),
      ],
      pods: [{ metadata: { namespace: 'shop', name: 'api-1', labels: { app: 'api' } } }],
      readSecret: () => 'sk',
      lastGood: new Map(),
    });
    const verdict = result.policies.get('shop/egress');
    if (verdict === undefined) throw new Error('no verdict');
    return computePolicyStatus({
      verdict,
      upstreams: names,
      sessions: [session],
      expectedHash: 'h',
      nowWallMs: 2_000,
    });
  };

  it('lists every open circuit within the schema bound of status.circuits, in name order', () => {
    const circuits = status().circuits ?? [];
    expect(circuits).toHaveLength(STATUS_CIRCUITS_MAX);
    const open = circuits.filter((c) => c.state === 'open').map((c) => c.upstream);
    expect(open).toEqual(names.slice(270));
    const listed = circuits.map((c) => c.upstream);
    expect(listed).toEqual([...listed].sort());
    expect(status().openCircuits).toBe(30);
  });

  it('keeps the Degraded message short enough to write, naming the first open circuits', () => {
    const degraded = status().conditions?.find((c) => c.type === 'Degraded');
    expect(degraded?.status).toBe('True');
    expect(degraded?.message).toContain('up-270/chat open in 1 of 1 sidecars');
    expect(degraded?.message).not.toContain('up-299/');
    expect(degraded?.message).toMatch(/; and 10 more$/);
    // What the CRD's message bound accepts whatever the number of open circuits.
    const many = Array.from({ length: 5_000 }, (_, i) => ({
      upstream: `u${'x'.repeat(60)}${i}`,
      endpoint: 'embeddings',
      state: 'open' as const,
      openSidecars: 1_000,
      openings: 1,
      lastTransitionWallMs: 0,
    }));
    expect(degradedMessage(many, 1_000).length).toBeLessThan(32_768);
  });

  it('keeps the name order when every circuit fits', () => {
    const few = names.slice(0, 3).map((upstream, i) => ({
      upstream,
      endpoint: 'chat',
      state: i === 2 ? ('open' as const) : ('closed' as const),
      openSidecars: i === 2 ? 1 : 0,
      openings: 0,
      lastTransitionWallMs: null,
    }));
    expect(listedCircuits(few).map((c) => c.upstream)).toEqual(names.slice(0, 3));
  });
});
