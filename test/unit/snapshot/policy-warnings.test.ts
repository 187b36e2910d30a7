import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../../src/snapshot/compile-snapshot.ts';
import { MODEL_RETIREMENTS } from '../../../src/policy/default-pricing.ts';
import { policyWarnings } from '../../../src/snapshot/policy-warnings.ts';
import { validatePolicy } from '../../../src/policy/validate-policy.ts';

function snapshot(spec: Record<string, unknown>) {
  const result = validatePolicy({
    apiVersion: 'aicircuit.io/v1alpha1',
    kind: 'AICircuitPolicy',
    metadata: { name: 'p' },
    spec,
  });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return compilePolicy(result.policy);
}

const upstreams = [
  { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' },
  {
    name: 'anthropic',
    provider: 'anthropic',
    baseURL: 'https://api.anthropic.com',
    apiKey: { env: 'ANTHROPIC_API_KEY' },
  },
];
const NOW = Date.parse('2026-12-02T12:00:00Z');

describe('policyWarnings', () => {
  it('says nothing about a policy that works as written', () => {
    const snap = snapshot({
      upstreams,
      fallbacks: [{ from: 'openai', to: [{ upstream: 'anthropic', model: 'claude-sonnet-4-6' }] }],
      overrides: [{ upstream: 'openai', state: 'forcedOpen', until: '2026-12-02T13:00:00Z' }],
    });
    expect(policyWarnings(snap, NOW)).toEqual([]);
  });

  it('reports an override whose until has passed, from that instant on', () => {
    const snap = snapshot({
      upstreams,
      overrides: [
        { upstream: 'openai', state: 'forcedClosed', until: '2026-12-02T13:00:00Z' },
        {
          upstream: 'openai',
          endpoint: 'chat',
          state: 'forcedOpen',
          until: '2026-12-01T12:00:00Z',
        },
      ],
    });
    expect(policyWarnings(snap, NOW)).toEqual([
      {
        path: 'spec.overrides[1].until',
        message:
          '2026-12-01T12:00:00.000Z has passed, so this forcedOpen override of openai/chat does ' +
          'nothing; remove it or set a time in the future (docs/runbook.md computes one)',
      },
    ]);
    expect(policyWarnings(snap, Date.parse('2026-12-02T13:00:00Z')).map((w) => w.path)).toEqual([
      'spec.overrides[0].until',
      'spec.overrides[1].until',
    ]);
  });

  it('reports fallback models that are retired or retiring, by their dated variants too', () => {
    const [retired, day] = Object.entries(MODEL_RETIREMENTS)[0] ?? [];
    if (retired === undefined || day === undefined) throw new Error('no retirements');
    const snap = snapshot({
      upstreams,
      fallbacks: [
        {
          from: 'openai',
          to: [
            {
              upstream: 'anthropic',
              modelMap: { 'gpt-4o': `${retired}-20250101`, '*': 'claude-sonnet-4-6' },
            },
          ],
        },
      ],
    });
    const at = Date.parse(`${day}T00:00:00Z`);
    expect(policyWarnings(snap, at)).toEqual([
      {
        path: 'spec.fallbacks[from=openai].to[0].modelMap["gpt-4o"]',
        message: `${retired}-20250101 was retired on ${day}: the provider refuses it, so every fallback openai -> anthropic that maps to it fails`,
      },
    ]);
    expect(policyWarnings(snap, at - 1)[0]?.message).toBe(
      `${retired}-20250101 retires on ${day}; move to a current model before then`,
    );
  });

  it('reports a fallback target of another provider without an apiKey: it is always skipped', () => {
    const snap = snapshot({
      upstreams: [
        upstreams[0],
        { name: 'anthropic', provider: 'anthropic', baseURL: 'https://api.anthropic.com' },
      ],
      fallbacks: [{ from: 'openai', to: [{ upstream: 'anthropic', model: 'claude-haiku-4-5' }] }],
    });
    expect(policyWarnings(snap, NOW)).toEqual([
      {
        path: 'spec.fallbacks[from=openai].to[0]',
        message:
          'anthropic (anthropic) serves requests to openai (openai) but has no apiKey, so fallback ' +
          'openai -> anthropic is always skipped (skipped-no_credentials); set upstreams[].apiKey',
      },
    ]);
  });
});
