// Test-side helpers of the e2e suite: kubectl and helm as a user types them against the
// single-node cluster, bounded polling, the app pod's HTTP interface, and the sidecar's memory
// as the kubelet and the cgroup report it.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';
import type { E2eEnv } from './context.ts';

export function e2eEnv(): E2eEnv {
  return inject('e2e');
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input = '',
  timeoutMs = 180_000,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

export interface Tools {
  /** `kubectl ...args`; never throws on a non-zero exit. */
  readonly kubectl: (args: readonly string[], input?: string) => Promise<RunResult>;
  /** `kubectl ...args`; throws with kubectl's message on a non-zero exit, returns stdout. */
  readonly kubectlOk: (args: readonly string[], input?: string) => Promise<string>;
  /** `helm ...args` with empty helm home directories; throws on a non-zero exit. */
  readonly helmOk: (args: readonly string[]) => Promise<string>;
}

export function toolsFor(kubeconfig: string, helm: string): Tools {
  const home = mkdtempSync(join(tmpdir(), 'aicb-e2e-home-'));
  const toolEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    KUBECONFIG: kubeconfig,
    KUBECACHEDIR: join(home, 'kube-cache'),
    HELM_CACHE_HOME: join(home, 'helm-cache'),
    HELM_CONFIG_HOME: join(home, 'helm-config'),
    HELM_DATA_HOME: join(home, 'helm-data'),
  };
  const kubectl = (args: readonly string[], input?: string) => run('kubectl', args, toolEnv, input);
  return {
    kubectl,
    kubectlOk: async (args, input) => {
      const r = await kubectl(args, input);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    helmOk: async (args) => {
      const r = await run(helm, args, toolEnv, '', 300_000);
      if (r.code !== 0) throw new Error(`helm ${args.join(' ')} failed: ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
  };
}

/** Retries `attempt` until it returns a value other than undefined; throws after the timeout. */
export async function waitFor<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000}s waiting for ${what}` +
          (lastError instanceof Error ? ` (last error: ${lastError.message})` : ''),
      );
    }
    await sleep(intervalMs);
  }
}

/** What the app's /chat returns: the SDK's answer or the error it threw. */
export interface ChatOutcome {
  readonly ok: boolean;
  readonly content?: string | null;
  readonly upstream?: string | null;
  readonly fallback?: string | null;
  readonly error?: string;
  readonly status?: number;
}

export interface LoadOutcome {
  readonly ok: number;
  readonly failed: number;
  readonly errors: string[];
  readonly ms: number;
}

/** The app pod's HTTP interface (test/e2e/app/app.ts), at its pod IP. */
export function appAt(podIp: string) {
  const base = `http://${podIp}:8080`;
  return {
    async chat(): Promise<ChatOutcome> {
      const res = await fetch(`${base}/chat`, {
        method: 'POST',
        signal: AbortSignal.timeout(30_000),
      });
      return (await res.json()) as ChatOutcome;
    },
    async load(requests: number, concurrency: number): Promise<LoadOutcome> {
      const res = await fetch(`${base}/load?requests=${requests}&concurrency=${concurrency}`, {
        method: 'POST',
        signal: AbortSignal.timeout(300_000),
      });
      return (await res.json()) as LoadOutcome;
    },
    async baseURL(): Promise<string> {
      const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5_000) });
      return ((await res.json()) as { baseURL: string }).baseURL;
    },
  };
}

/** A container's memory cgroup (cgroup v1, cgroupfs driver: kubepods/<qos>/pod<uid>/<id>). */
export function memoryCgroupOf(containerId: string): string {
  const id = containerId.replace(/^containerd:\/\//, '');
  const root = '/sys/fs/cgroup/memory/kubepods';
  const queue = [root];
  for (let depth = 0; depth < 4 && queue.length > 0; depth += 1) {
    for (const dir of queue.splice(0)) {
      if (!existsSync(dir)) continue;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const path = join(dir, entry.name);
        if (entry.name === id) return path;
        queue.push(path);
      }
    }
  }
  throw new Error(`no memory cgroup for container ${id} under ${root}`);
}

/** Working set as the kubelet computes it: usage minus inactive file pages. */
export function cgroupWorkingSetBytes(cgroup: string): number {
  const usage = Number(readFileSync(join(cgroup, 'memory.usage_in_bytes'), 'utf8'));
  const inactive = /^total_inactive_file (\d+)$/m.exec(
    readFileSync(join(cgroup, 'memory.stat'), 'utf8'),
  );
  return usage - Number(inactive?.[1] ?? 0);
}

interface SummaryContainer {
  name: string;
  memory?: { workingSetBytes?: number; rssBytes?: number };
}
interface Summary {
  pods?: { podRef: { name: string; namespace: string }; containers?: SummaryContainer[] }[];
}

/** The container's memory in the kubelet's /stats/summary (cAdvisor), through the API server. */
export async function kubeletMemory(
  tools: Tools,
  nodeName: string,
  namespace: string,
  pod: string,
  container: string,
): Promise<{ workingSetBytes: number; rssBytes: number } | undefined> {
  const raw = await tools.kubectlOk([
    'get',
    '--raw',
    `/api/v1/nodes/${nodeName}/proxy/stats/summary`,
  ]);
  const summary = JSON.parse(raw) as Summary;
  const found = summary.pods
    ?.find((p) => p.podRef.name === pod && p.podRef.namespace === namespace)
    ?.containers?.find((c) => c.name === container)?.memory;
  if (found?.workingSetBytes === undefined || found.rssBytes === undefined) return undefined;
  return { workingSetBytes: found.workingSetBytes, rssBytes: found.rssBytes };
}
