import { describe, expect, it } from 'vitest';
import { loadWarnings } from '../../../src/dataplane/load-warnings.ts';
import { compilePolicy } from '../../../src/snapshot/compile-snapshot.ts';
import type { CredentialRef } from '../../../src/snapshot/snapshot.ts';
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

const NOW = Date.parse('2026-12-02T12:00:00Z');
const nothingReadable = { resolve: () => undefined, nowWallMs: NOW, alerting: true };

describe('loadWarnings', () => {
  it('names the file or Secret key it cannot read and the fallback that is therefore disabled', () => {
    const snap = snapshot({
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' },
        {
          name: 'anthropic',
          provider: 'anthropic',
          baseURL: 'https://api.anthropic.com',
          apiKey: { file: '/var/run/keys/anthropic' },
        },
        {
          name: 'azure',
          provider: 'azure-openai',
          baseURL: 'https://x.openai.azure.com',
          apiKey: { secretKeyRef: { name: 'azure', key: 'api-key' } },
        },
      ],
      fallbacks: [
        {
          from: 'openai',
          to: [
            { upstream: 'azure', model: 'gpt-4o' },
            { upstream: 'anthropic', model: 'claude-haiku-4-5' },
          ],
        },
      ],
    });
    expect(loadWarnings(snap, nothingReadable)).toEqual([
      {
        path: 'spec.upstreams[1].apiKey.file',
        message:
          'file /var/run/keys/anthropic is missing, unreadable or empty: fallback openai -> anthropic ' +
          'is disabled (spec.fallbacks[from=openai].to[1] is skipped: skipped-no_credentials)',
      },
      {
        path: 'spec.upstreams[2].apiKey.secretKeyRef',
        message:
          'Secret azure key api-key cannot be read here (only the controller resolves secretKeyRef; ' +
          'in standalone mode use env or file): fallback openai -> azure is disabled ' +
          '(spec.fallbacks[from=openai].to[0] is skipped: skipped-no_credentials)',
      },
    ]);
  });

  it("says a same-provider fallback sends the caller's credentials instead, and is silent when all is readable", () => {
    const snap = snapshot({
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' },
        {
          name: 'openai-eu',
          provider: 'openai',
          baseURL: 'https://eu.api.openai.com',
          apiKey: { env: 'OPENAI_EU_KEY' },
        },
      ],
      fallbacks: [{ from: 'openai', to: [{ upstream: 'openai-eu' }] }],
      alerting: { slack: { webhookURL: { env: 'SLACK_URL' } } },
    });
    expect(loadWarnings(snap, nothingReadable)).toEqual([
      {
        path: 'spec.upstreams[1].apiKey.env',
        message:
          "environment variable OPENAI_EU_KEY is not set (or empty): fallback openai -> openai-eu sends the caller's own credentials instead",
      },
      {
        path: 'spec.alerting.slack.webhookURL.env',
        message: 'environment variable SLACK_URL is not set (or empty): Slack receives no alerts',
      },
    ]);
    // Alert targets are the controller's business in a cluster: no warning there.
    expect(loadWarnings(snap, { ...nothingReadable, alerting: false })).toHaveLength(1);
    const readable = (ref: CredentialRef) => (ref.source === 'env' ? 'set' : undefined);
    expect(loadWarnings(snap, { ...nothingReadable, resolve: readable })).toEqual([]);
  });
});
