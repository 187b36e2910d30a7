// Runs the repository's tool scripts (tools/kube-testenv, tools/image) from the e2e suite.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
export const KUBE_TESTENV = join(REPO_ROOT, 'tools', 'kube-testenv');

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

export interface ToolOptions {
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Copy the tool's stderr (progress) to ours as it comes. */
  readonly showProgress?: boolean;
}

/** Runs a command to completion (bounded by timeoutMs); never throws on a non-zero exit. */
export function runTool(
  command: string,
  args: readonly string[],
  options: ToolOptions,
): Promise<ToolResult> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (options.showProgress === true) process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr, seconds: (performance.now() - start) / 1000 });
    });
  });
}

/** Like runTool, but throws (with the tool's stderr tail) unless it exits 0. */
export async function runToolOk(
  command: string,
  args: readonly string[],
  options: ToolOptions,
): Promise<ToolResult> {
  const r = await runTool(command, args, options);
  if (r.code !== 0) {
    const tail = r.stderr.split('\n').slice(-40).join('\n');
    throw new Error(`${command} ${args.join(' ')} failed (${String(r.code)}):\n${tail}`);
  }
  return r;
}
