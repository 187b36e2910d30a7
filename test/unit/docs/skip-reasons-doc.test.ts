/**
 * The skip reasons the docs name are the ones the sidecar produces: `skipped-<reason>` in
 * `x-aicb-attempts` and `skipped_<reason>` in `aicb_fallbacks_total{result}`. A reason that does
 * not exist sends an operator looking for the wrong cause; a missing one leaves them guessing.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SKIP_REASONS } from '../../../src/dataplane/skip-reasons.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const docs = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).map((f) => `docs/${f}`)].filter(
  (f) => f.endsWith('.md'),
);

describe('skip reasons in the docs', () => {
  it('every skipped-<reason> any doc names is one the sidecar produces', () => {
    for (const doc of docs) {
      for (const [, reason] of read(doc).matchAll(/skipped-([a-z_]+)/g)) {
        expect(SKIP_REASONS, `${doc}: skipped-${reason ?? ''}`).toContain(reason);
      }
    }
  });

  it('troubleshooting.md explains every reason', () => {
    const named = new Set(
      [...read('docs/troubleshooting.md').matchAll(/skipped-([a-z_]+)/g)].map((m) => m[1]),
    );
    expect([...named].sort()).toEqual([...SKIP_REASONS].sort());
  });

  it('metrics.md lists exactly the results of aicb_fallbacks_total', () => {
    const row = read('docs/metrics.md')
      .split('\n')
      .find((line) => line.startsWith('| `aicb_fallbacks_total`'));
    const meaning = (row ?? '').split('|')[4] ?? '';
    const results = [...(meaning.split('`result`:')[1] ?? '').matchAll(/`([a-z_]+)`/g)].map(
      (m) => m[1],
    );
    expect(results.sort()).toEqual(
      [
        'success',
        'failure',
        'interrupted',
        'short_circuited',
        'connection_limited',
        ...SKIP_REASONS.map((r) => `skipped_${r}`),
      ].sort(),
    );
  });
});
