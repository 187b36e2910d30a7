import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/fixtures.ts';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('docs/errors.md', () => {
  it('lists exactly the AICB_* codes the source raises', () => {
    const inSource = new Set<string>();
    for (const file of sourceFiles(join(REPO_ROOT, 'src'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/'(AICB_[A-Z0-9_]+)'/g)) {
        if (match[1] !== undefined) inSource.add(match[1]);
      }
    }
    // Environment variable names (read as env.AICB_X somewhere) are not error codes.
    for (const file of sourceFiles(join(REPO_ROOT, 'src'))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/env\.(AICB_[A-Z0-9_]+)/g)) {
        if (match[1] !== undefined) inSource.delete(match[1]);
      }
    }
    const doc = readFileSync(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
    const inDocs = new Set(
      [...doc.matchAll(/^\| `(AICB_[A-Z0-9_]+)` +\|/gm)].map((m) => m[1] ?? ''),
    );
    expect([...inDocs].sort()).toEqual([...inSource].sort());
  });
});
