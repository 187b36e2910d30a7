/**
 * docs/policy.md promises that validation reports every problem at once; its example file and
 * output are run here through `aicb validate` and the sidecar's file loader, as a user would.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runValidate } from '../../../src/cli/validate-command.ts';
import { compilePolicyText } from '../../../src/dataplane/config/policy-file.ts';
import { formatProblems } from '../../../src/policy/validate-policy.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

const doc = readFileSync(join(REPO_ROOT, 'docs/policy.md'), 'utf8');
const example = doc.slice(doc.indexOf('<!-- validate-example'));
const yaml = /```yaml\n([\s\S]*?)```/.exec(example)?.[1] ?? '';
const shown = /```\n\$ npx aicb validate -f policy\.yaml\n([\s\S]*?)```/.exec(example)?.[1] ?? '';

describe('docs/policy.md validation example', () => {
  it('is what aicb validate prints for its file: type, value and cross-field problems in one run', () => {
    expect(yaml).toContain('recoveryTimeout: 30');
    let out = '';
    const code = runValidate(['-f', 'policy.yaml'], {
      out: (text) => (out += text),
      err: (text) => (out += text),
      readFile: () => yaml,
    });
    expect(code).toBe(1);
    expect(out).toBe(shown);
    expect(out).toContain('4 problems');
  });

  it('is what the sidecar refuses to start with', () => {
    const result = compilePolicyText(yaml);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(`${formatProblems(result.problems)}\n`).toBe(
      shown
        .split('\n')
        .slice(1)
        .map((l) => l.replace(/^ {2}/, ''))
        .join('\n'),
    );
  });
});
