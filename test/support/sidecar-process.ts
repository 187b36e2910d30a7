// Runs `aicb sidecar` as a real child process (as the injector would), on port 0, and reads its
// listening addresses from its JSON log. Stopped by process id.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './fixtures.ts';

export interface SidecarProcess {
  readonly child: ChildProcess;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  /** Everything the process printed so far. */
  output(): string;
  health(): Promise<{
    providers: Record<string, string>;
    policy: { hash: string } | null;
    endpoints: Record<string, Record<string, { state: string; failureThreshold: number }[]>>;
  }>;
  readyHash(): Promise<string | undefined>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startSidecarProcess(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<SidecarProcess> {
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'src/cli/main.ts'), 'sidecar', '--port', '0', '--admin-port', '0', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
  );
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const deadline = Date.now() + 20_000;
  while (!output.includes('sidecar listening')) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`sidecar did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const line = JSON.parse(
    output.split('\n').find((l) => l.includes('sidecar listening')) ?? '{}',
  ) as {
    proxy: string;
    admin: string;
  };
  const adminUrl = line.admin;
  return {
    child,
    proxyUrl: line.proxy,
    adminUrl,
    output: () => output,
    async health() {
      const res = await fetch(`${adminUrl}/health/circuit-breakers`);
      return (await res.json()) as Awaited<ReturnType<SidecarProcess['health']>>;
    },
    async readyHash() {
      const res = await fetch(`${adminUrl}/readyz`);
      if (res.status !== 200) return undefined;
      return ((await res.json()) as { hash: string }).hash;
    },
    stop(signal = 'SIGTERM') {
      if (child.exitCode !== null) return Promise.resolve(child.exitCode);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill(signal);
      return exited;
    },
  };
}
