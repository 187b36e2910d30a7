/**
 * The policies users copy (the default policy, the CRD fixtures marked valid, the cluster
 * examples) are valid and do what they say: no validation warning such as an override whose
 * `until` has passed or a retired model. Checked at today's date, so an example that goes stale
 * fails here before a user meets it.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { compilePolicy } from '../../../src/snapshot/compile-snapshot.ts';
import { policyWarnings } from '../../../src/snapshot/policy-warnings.ts';
import { validatePolicy } from '../../../src/policy/validate-policy.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

const FILES = [
  'examples/policy.yaml',
  ...readdirSync(join(REPO_ROOT, 'crds/examples'))
    .filter((f) => f.startsWith('valid-'))
    .map((f) => `crds/examples/${f}`),
  ...readdirSync(join(REPO_ROOT, 'deploy/examples'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => `deploy/examples/${f}`),
];

describe('example policies', () => {
  it.each(FILES)('%s is valid and draws no warning today', (file) => {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8');
    const policies = parseAllDocuments(text, { version: '1.1' })
      .map((d) => d.toJS() as unknown)
      .filter((v) => (v as { kind?: unknown } | null)?.kind === 'AICircuitPolicy');
    expect(policies.length).toBeGreaterThan(0);
    for (const policy of policies) {
      const result = validatePolicy(policy);
      if (!result.ok) throw new Error(JSON.stringify(result.problems));
      expect(policyWarnings(compilePolicy(result.policy), Date.now())).toEqual([]);
    }
  });
});
