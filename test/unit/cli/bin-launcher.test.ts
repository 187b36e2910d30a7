import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/fixtures.ts';

interface PackageJson {
  version: string;
  bin: Record<string, string>;
  files: string[];
  engines?: unknown;
  devEngines: { runtime: { version: string }; packageManager: { version: string } };
}
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as PackageJson;
const launcher = join(REPO_ROOT, pkg.bin.aicb ?? 'missing');

describe('the aicb command from a fresh clone', () => {
  it('is a launcher that exists in the clone and ships in the package', () => {
    expect(readFileSync(launcher, 'utf8')).toMatch(/^#!\/usr\/bin\/env node\n/);
    expect(pkg.files).toContain(pkg.bin.aicb?.split('/')[0]);
  });

  it('runs the sources without a build (what npx aicb runs after npm ci)', () => {
    const out = execFileSync(process.execPath, [launcher, '--version'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(out).toBe(`${pkg.version}\n`);
  });

  it('stops quietly when its reader closes the pipe early (aicb crd | head)', () => {
    const run = spawnSync('sh', ['-c', `"${process.execPath}" "${launcher}" crd | head -1`], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(run.stdout).toMatch(/^# Generated from src\/policy\/policy-schema\.ts/);
    expect(run.stderr).toBe('');
  });

  it('refuses a Node.js older than its dependencies need, saying which', () => {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.20.2"})',
        launcher,
        '--version',
      ],
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('aicb needs Node.js 22.19 or later (undici 8); this is v20.20.2.');
  });
});

describe('bootstrap requirements', () => {
  it('are what the README says, enforced by npm through devEngines', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const stated = /Requirements: Node\.js ≥ (\d+) with npm ≥ (\d+) to bootstrap/.exec(readme);
    expect(stated).not.toBeNull();
    expect(pkg.devEngines.runtime.version).toBe(`>=${stated?.[1] ?? ''}`);
    expect(pkg.devEngines.packageManager.version).toBe(`>=${stated?.[2] ?? ''}`);
  });

  it('leave npm no engines of the project itself to warn about on the bootstrap Node.js', () => {
    // npm skips the root `engines` check when `devEngines` is present, but `npx aicb` installs
    // the clone like a dependency and would check it; the launcher checks the runtime instead.
    expect(pkg.engines).toBeUndefined();
  });
});
