// Docs, code, tests and benchmarks cite only what is in the repository: a reader who clones it
// must be able to follow every reference. Fails on machine paths (a home or work directory), on
// relative paths that climb out of the repository, and on design or research notes that were
// never checked in.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/fixtures.ts';

const TEXT_FILE = /\.(ts|js|cjs|mjs|md|json|ya?ml|sh|go|tpl|txt)$/;
const THIS_FILE = relative(REPO_ROOT, import.meta.filename);

/**
 * Absolute paths of the machine a file was written on (its work or user directory), not of the
 * repository. Paths inside images (`/home/node`) or made at run time (`/var/tmp/...`) are fine.
 */
const MACHINE_PATH = /(?<![\w.$}-])\/(?:work|Users)\/[\w.-]/;
/** Notes that live beside the repository, never in it. */
const OUTSIDE_NOTE = /\b(?:DESIGN|STYLE)\.md\b|\bresearch\/[\w-]+\.md\b|\bDESIGN section\b/;
/** A relative path: one or more `../` steps, then a name. */
const RELATIVE_PATH = /(?<![\w./-])((?:\.\.\/)+)[\w.-]/g;

function trackedTextFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  return listed
    .split('\n')
    .filter((path) => TEXT_FILE.test(path) && path !== THIS_FILE && path !== 'package-lock.json');
}

function outsideReferences(path: string, text: string): string[] {
  const found: string[] = [];
  text.split('\n').forEach((line, index) => {
    const where = `${path}:${index + 1}`;
    if (MACHINE_PATH.test(line)) found.push(`${where}: machine path: ${line.trim()}`);
    if (OUTSIDE_NOTE.test(line))
      found.push(`${where}: note outside the repository: ${line.trim()}`);
    for (const match of line.matchAll(RELATIVE_PATH)) {
      const target = resolve(dirname(join(REPO_ROOT, path)), match[1] ?? '');
      if (relative(REPO_ROOT, target).startsWith('..')) {
        found.push(`${where}: climbs out of the repository: ${line.trim()}`);
      }
    }
  });
  return found;
}

describe('the repository is self-contained', () => {
  it('docs, sources, tests and benchmarks reference nothing outside it', () => {
    const files = trackedTextFiles();
    expect(files.length).toBeGreaterThan(100);
    const found = files.flatMap((path) =>
      outsideReferences(path, readFileSync(join(REPO_ROOT, path), 'utf8')),
    );
    expect(found).toEqual([]);
  });

  it('the checker sees each kind of outside reference', () => {
    const root = ['', 'work', 'shared', ''].join('/');
    expect(outsideReferences('docs/x.md', `see ${root}notes.md`)).toHaveLength(1);
    expect(outsideReferences('docs/x.md', 'see ../../shared/notes.md')).toHaveLength(1);
    expect(outsideReferences('docs/adr/x.md', 'see ../breaker-spec.md')).toEqual([]);
    expect(outsideReferences('src/a/b.ts', "import '../../../shared/x.ts'")).toHaveLength(1);
    expect(outsideReferences('src/a/b.ts', "import '../../shared/clock.ts'")).toEqual([]);
    expect(outsideReferences('src/a/b.ts', "import '../shared/clock.ts'")).toEqual([]);
    expect(outsideReferences('src/x.ts', `// as ${['DESIGN', 'md'].join('.')} says`)).toHaveLength(
      1,
    );
  });
});
