import { describe, expect, it } from 'vitest';
import { parsePolicyDocuments } from '../../../src/policy/parse-policy-documents.ts';
import { formatProblems, validatePolicy } from '../../../src/policy/validate-policy.ts';
import { formatFieldPath } from '../../../src/policy/field-path.ts';

const base = {
  apiVersion: 'aicircuit.io/v1alpha1',
  kind: 'AICircuitPolicy',
  metadata: { name: 'p' },
};

describe('validatePolicy', () => {
  it('reports every problem at once, each with its path', () => {
    const result = validatePolicy({
      ...base,
      spec: {
        defaultUpstream: 'nope',
        upstreams: [{ name: 'Bad_Name', provider: 'openai', baseURL: 'ftp://x' }],
        breaker: { window: '0s' },
      },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatProblems(result.problems);
    expect(text).toContain('spec.upstreams[0].name: must be a lowercase DNS label');
    expect(text).toContain('spec.upstreams[0].baseURL: must be an http:// or https:// URL');
    expect(text).toContain('spec.breaker.window: must be a positive duration');
    expect(result.problems.length).toBeGreaterThanOrEqual(3);
  });

  it('runs the cross-field rules next to type errors elsewhere, so one run finds everything', () => {
    const result = validatePolicy({
      ...base,
      spec: {
        upstreams: [
          { name: 'openai', provider: 'openai', baseURL: 'https://a.example', timeouts: 5 },
          { name: 'openai', provider: 'anthropic', baseURL: 'https://b.example' },
        ],
        breaker: { recoveryTimeout: 30, treshold: 3, adaptive: 'many' },
        fallbacks: [{ from: 'openai', to: [{ upstream: 'anthropc', model: 'm', modelMap: {} }] }],
        alerting: { webhooks: [{ url: {} }], dedupWindow: false },
        overrides: [{ upstream: 'azure', state: 'forcedOpen', until: 'tomorrow' }],
      },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.path).sort()).toEqual(
      [
        'spec.alerting.dedupWindow',
        'spec.alerting.webhooks[0].url',
        'spec.breaker',
        'spec.breaker.adaptive',
        'spec.breaker.recoveryTimeout',
        'spec.fallbacks[0].to[0].modelMap',
        'spec.fallbacks[0].to[0].upstream',
        'spec.overrides[0].until',
        'spec.overrides[0].upstream',
        'spec.upstreams[0].timeouts',
        'spec.upstreams[1].name',
      ].sort(),
    );
  });

  it('points the old alerting.on, quoted or bare, at alerting.events', () => {
    const upstreams =
      '  upstreams: [{ name: openai, provider: openai, baseURL: https://a.example }]';
    for (const key of ['on', "'on'"]) {
      const text = `apiVersion: aicircuit.io/v1alpha1\nkind: AICircuitPolicy\nmetadata: { name: p }\nspec:\n${upstreams}\n  alerting:\n    ${key}: [opened]\n`;
      const [doc] = parsePolicyDocuments(text);
      expect(doc?.result.ok).toBe(false);
      if (doc === undefined || doc.result.ok) continue;
      expect(formatProblems(doc.result.problems)).toMatch(
        /^spec\.alerting: unknown field "(true|on)" \(alerting\.on is now alerting\.events/,
      );
    }
    const [ok] = parsePolicyDocuments(
      `apiVersion: aicircuit.io/v1alpha1\nkind: AICircuitPolicy\nmetadata: { name: p }\nspec:\n${upstreams}\n  alerting:\n    events: [opened]\n`,
    );
    expect(ok?.result.ok).toBe(true);
  });

  it('never echoes a misplaced secret into the error', () => {
    const result = validatePolicy({
      ...base,
      spec: {
        upstreams: [
          {
            name: 'openai',
            provider: 'openai',
            baseURL: 'https://api.openai.com',
            apiKey: 'sk-live-SECRET123',
          },
        ],
      },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatProblems(result.problems);
    expect(text).toContain('spec.upstreams[0].apiKey: must be an object, got a string');
    expect(text).not.toContain('SECRET123');
  });

  it('names missing required fields and a wrong apiVersion', () => {
    const result = validatePolicy({
      apiVersion: 'aicircuit.io/v1',
      kind: 'AICircuitPolicy',
      metadata: { name: 'p' },
      spec: {},
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatProblems(result.problems)).toBe(
      'apiVersion: must be aicircuit.io/v1alpha1\nspec.upstreams: required field is missing',
    );
  });

  it('formats zod paths in Kubernetes notation', () => {
    expect(formatFieldPath(['spec', 'fallbacks', 0, 'to', 1, 'upstream'])).toBe(
      'spec.fallbacks[0].to[1].upstream',
    );
    expect(formatFieldPath(['spec', 'fallbacks', 0, 'to', 0, 'modelMap', 'gpt-4o'])).toBe(
      'spec.fallbacks[0].to[0].modelMap["gpt-4o"]',
    );
  });
});

describe('parsePolicyDocuments', () => {
  it('validates each document of a multi-document file and labels it', () => {
    const text = `apiVersion: aicircuit.io/v1alpha1
kind: AICircuitPolicy
metadata: {name: a, namespace: ns}
spec:
  upstreams: [{name: openai, provider: openai, baseURL: "https://api.openai.com"}]
---
apiVersion: aicircuit.io/v1alpha1
kind: AICircuitPolicy
metadata: {name: b}
spec:
  upstreams: []
---
`;
    const docs = parsePolicyDocuments(text);
    expect(docs.map((d) => [d.index, d.label, d.result.ok])).toEqual([
      [1, 'ns/a', true],
      [2, 'b', false],
    ]);
  });

  it('turns YAML syntax errors into problems instead of throwing', () => {
    const docs = parsePolicyDocuments('spec: [unclosed\n');
    expect(docs).toHaveLength(1);
    const result = docs[0]?.result;
    expect(result?.ok).toBe(false);
    if (result?.ok !== false) return;
    expect(result.problems[0]?.message).toMatch(/^YAML syntax error/);
  });
});
