// `aicb sidecar` and `aicb status` as a user runs them: a real process on a policy file.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeProvider, type FakeProvider } from '../../support/fake-provider.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';
import { policyYaml } from '../../support/sidecar-harness.ts';

const MAIN = join(REPO_ROOT, 'src/cli/main.ts');
let provider: FakeProvider;
let dir: string;
let child: ChildProcess;
let proxyUrl: string;
let adminUrl: string;
let output = '';

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  provider = await startFakeProvider({ api: 'openai' });
  dir = mkdtempSync(join(tmpdir(), 'aicb-cli-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(
    file,
    policyYaml({
      upstreams: [{ name: 'openai', provider: 'openai', baseURL: provider.url }],
      breaker: { failureThreshold: 2 },
    }),
  );
  child = spawn(
    process.execPath,
    [MAIN, 'sidecar', '--config', file, '--port', '0', '--admin-port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 15_000;
  while (!output.includes('sidecar listening')) {
    if (Date.now() > deadline || child.exitCode !== null) {
      throw new Error(`sidecar did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const line = JSON.parse(
    output.split('\n').find((l) => l.includes('sidecar listening')) ?? '{}',
  ) as { proxy: string; admin: string };
  proxyUrl = line.proxy;
  adminUrl = line.admin;
});

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await provider.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('aicb sidecar / aicb status', () => {
  it('serves on loopback', async () => {
    expect(proxyUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const c = new OpenAI({ apiKey: 'k', baseURL: `${proxyUrl}/openai/v1`, maxRetries: 0 });
    const reply = await c.chat.completions.create({ model: 'gpt-4o', messages: [] });
    expect(reply.object).toBe('chat.completion');
  });

  it('prints the circuits as a table and exits non-zero once one is open', async () => {
    const healthy = await run(['status', '--admin', adminUrl]);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toContain('overall: healthy');
    expect(healthy.stdout).toMatch(/UPSTREAM\s+ENDPOINT\s+MODEL\s+STATE/);
    provider.setDefault({ type: 'status', status: 503 });
    const c = new OpenAI({ apiKey: 'k', baseURL: `${proxyUrl}/openai/v1`, maxRetries: 0 });
    for (let i = 0; i < 2; i++) {
      await c.chat.completions.create({ model: 'gpt-4o', messages: [] }).catch(() => undefined);
    }
    const open = await run(['status', '--admin', adminUrl]);
    expect(open.code).toBe(1);
    expect(open.stdout).toContain('overall: critical');
    expect(open.stdout).toMatch(/openai\s+chat\s+-\s+open\s+2\/2/);
  });

  it('reports an unreachable sidecar with exit code 2', async () => {
    const result = await run(['status', '--admin', 'http://127.0.0.1:1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cannot read http://127.0.0.1:1/health/circuit-breakers');
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('sidecar stopped');
  });
});

describe('aicb sidecar with a bad policy', () => {
  it('refuses to start and lists every problem', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      policyYaml({ upstreams: [{ name: 'openai', provider: 'openai', baseURL: 'nope' }] }),
    );
    const result = await run(['sidecar', '--config', file, '--port', '0', '--admin-port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'spec.upstreams[0].baseURL: must be an http:// or https:// URL',
    );
  });
});

describe('aicb sidecar on the bundled default policy without the fallback keys', () => {
  it('starts, and warns naming each missing variable and the fallback it disables', async () => {
    const env = { ...process.env };
    delete env.OPENAI_API_KEY;
    delete env.ANTHROPIC_API_KEY;
    const p = spawn(
      process.execPath,
      [MAIN, 'sidecar', '--config', 'examples/policy.yaml', '--port', '0', '--admin-port', '0'],
      { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    try {
      const deadline = Date.now() + 15_000;
      while (!out.includes('sidecar listening')) {
        if (Date.now() > deadline || p.exitCode !== null) throw new Error(`no start:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      const warnings = out
        .split('\n')
        .filter((l) => l.includes('policy warning'))
        .map((l) => (JSON.parse(l) as { level: number; msg: string }).msg);
      expect(warnings).toEqual([
        'policy warning: spec.upstreams[0].apiKey.env: environment variable OPENAI_API_KEY is not set (or empty): ' +
          'fallback anthropic -> openai is disabled (spec.fallbacks[from=anthropic].to[0] is skipped: skipped-no_credentials)',
        'policy warning: spec.upstreams[1].apiKey.env: environment variable ANTHROPIC_API_KEY is not set (or empty): ' +
          'fallback openai -> anthropic is disabled (spec.fallbacks[from=openai].to[0] is skipped: skipped-no_credentials)',
      ]);
    } finally {
      p.kill('SIGKILL');
    }
  });
});
