// Test-side helpers for the `cluster` project: the control plane started by global-setup.ts,
// kubectl as a user types it, @kubernetes/client-node clients, and unique namespaces.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  V1Namespace,
  V1ObjectMeta,
} from '@kubernetes/client-node';
import { inject } from 'vitest';
import type { KubeTestenv, KubeTestenvReady } from './context.ts';

export type { KubeTestenv, KubeTestenvReady } from './context.ts';

/** What the global setup provided: a running control plane, or why there is none. */
export function kubeTestenv(): KubeTestenv {
  return inject('kubeTestenv');
}

export interface KubectlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr together, as a terminal would show them. */
  readonly output: string;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (for `-f -`). */
  readonly input?: string;
  /** Working directory (relative paths such as `crds/`); defaults to this process's. */
  readonly cwd?: string;
}

export interface Cluster {
  readonly env: KubeTestenvReady;
  readonly kubeConfig: KubeConfig;
  readonly core: CoreV1Api;
  readonly customObjects: CustomObjectsApi;
  /** `kubectl --kubeconfig <file> ...args`; never throws on a non-zero exit. */
  kubectl(args: readonly string[], options?: KubectlOptions): Promise<KubectlResult>;
  /** Creates a namespace named `<prefix>-<random>` and returns its name. */
  createNamespace(prefix: string): Promise<string>;
}

/** kubectl to run (client 1.32 warns about skew with the 1.34 server; that is expected). */
const KUBECTL = process.env.KUBECTL ?? 'kubectl';

export function connect(env: KubeTestenv): Cluster {
  if (!env.available) throw new Error(`no control plane: ${env.reason}`);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(env.kubeconfig);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
  return {
    env,
    kubeConfig,
    core,
    customObjects,
    kubectl: (args, options) =>
      run(KUBECTL, ['--kubeconfig', env.kubeconfig, ...args], {
        env: { ...process.env, KUBECACHEDIR: env.kubectlCacheDir },
        ...options,
      }),
    createNamespace: async (prefix) => {
      const name = `${prefix}-${randomBytes(4).toString('hex')}`;
      const body = new V1Namespace();
      body.metadata = new V1ObjectMeta();
      body.metadata.name = name;
      body.metadata.labels = { 'aicb-test': prefix };
      await core.createNamespace({ body });
      return name;
    },
  };
}

function run(
  command: string,
  args: readonly string[],
  options: KubectlOptions & { readonly env: NodeJS.ProcessEnv },
): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    let stdout = '';
    let stderr = '';
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr, output });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Retries `attempt` until it returns a value other than undefined, or the timeout passes. */
export async function eventually<T>(
  attempt: () => Promise<T | undefined>,
  { timeoutMs = 15_000, intervalMs = 200 } = {},
): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
