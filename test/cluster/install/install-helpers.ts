// Shared by the install tests: the pinned helm from the kube-testenv assets (isolated from any
// user configuration), rendering the chart into parsed objects, and small accessors.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { REPO_ROOT } from '../../support/fixtures.ts';
import type { KubeTestenvReady } from '../../support/kube-testenv/cluster.ts';

export const CHART_DIR = join(REPO_ROOT, 'charts', 'ai-circuit-breaker');
export const NON_DEFAULT_VALUES = join(CHART_DIR, 'ci', 'non-default-values.yaml');

/** A Kubernetes object as `helm template` renders it. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
  readonly [field: string]: unknown;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; never throws on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? REPO_ROOT,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 120_000,
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
    child.stdin.end(options.input ?? '');
  });
}

export interface Helm {
  /** The helm binary (v3.19.5 from the kube-testenv assets). */
  readonly path: string;
  /** `helm ...args` with the test kubeconfig and empty helm home directories. */
  run(args: readonly string[]): Promise<RunResult>;
  /** `helm template` of the chart; throws with helm's message when it fails. */
  template(release: string, namespace: string, args?: readonly string[]): Promise<KubeObject[]>;
}

export function helmFor(env: KubeTestenvReady): Helm {
  const path = join(env.assetsDir, 'helm');
  const home = mkdtempSync(join(tmpdir(), 'aicb-helm-home-'));
  const helmEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    KUBECONFIG: env.kubeconfig,
    KUBECACHEDIR: join(home, 'kube-cache'),
  };
  const runHelm = (args: readonly string[]) => run(path, args, { env: helmEnv });
  return {
    path,
    run: runHelm,
    async template(release, namespace, args = []) {
      const r = await runHelm(['template', release, CHART_DIR, '--namespace', namespace, ...args]);
      if (r.code !== 0) throw new Error(`helm template failed (${r.code}): ${r.stderr}`);
      return parseObjects(r.stdout);
    },
  };
}

/** Every non-empty document of a YAML stream, as objects (YAML 1.1, as kubectl reads it). */
export function parseObjects(text: string): KubeObject[] {
  return parseAllDocuments(text, { version: '1.1' })
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message ?? ''}`);
      return doc.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null);
}

/** The objects as one YAML stream (for `kubectl apply -f -`). */
export function toYamlStream(objects: readonly KubeObject[]): string {
  return objects.map((o) => stringify(o)).join('---\n');
}

/** The one object of `kind` (and `name`, when given); throws when there is not exactly one. */
export function one(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  );
  if (found.length !== 1) {
    const all = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`expected one ${kind}${name === undefined ? '' : `/${name}`}, got: ${all}`);
  }
  const [object] = found;
  if (object === undefined) throw new Error('unreachable');
  return object;
}

/** `Kind/name` of every object, sorted (what a rendering contains, at a glance). */
export function inventory(objects: readonly KubeObject[]): string[] {
  return objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
}

/**
 * Follows a dotted path (`spec.template.spec`; numbers index arrays; `\\.` is a dot inside a
 * key, as in `data.config\\.json`); undefined when absent.
 */
export function at(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split(/(?<!\\)\./).map((k) => k.replaceAll('\\.', '.'))) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Like `at`, for a value that must be a string. */
export function stringAt(value: unknown, path: string): string {
  const found = at(value, path);
  if (typeof found !== 'string') throw new Error(`${path} is not a string: ${String(found)}`);
  return found;
}

/** API groups whose CRDs the bare test API server does not have. */
export const FOREIGN_GROUPS = ['cert-manager.io', 'monitoring.coreos.com'] as const;

export function isForeign(object: KubeObject): boolean {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
  return FOREIGN_GROUPS.some((g) => g === group);
}

/** How `kubectl apply` names an object in its output: `deployment.apps/name`. */
export function kubectlName(object: KubeObject): string {
  const group = object.apiVersion.includes('/') ? object.apiVersion.split('/')[0] : '';
  const kind = object.kind.toLowerCase();
  return `${group === '' ? kind : `${kind}.${group}`}/${object.metadata.name}`;
}
