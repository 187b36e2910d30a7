// Shared setup of the src/controlplane/kube cluster tests: clients built the way the controller
// builds them, the CRD installed once per file, policies created through the API, a logger that
// keeps its lines, and small waiting helpers.
import { join } from 'node:path';
import { CRD_NAME, CRD_PLURAL } from '../../../src/policy/crd-manifest.ts';
import {
  API_GROUP,
  API_VERSION,
  API_VERSION_FULL,
  KIND,
} from '../../../src/policy/policy-schema.ts';
import {
  createKubeClients,
  loadKubeConfig,
  type KubeClients,
} from '../../../src/controlplane/kube/kube-client.ts';
import type { KubeLogger } from '../../../src/controlplane/kube/kube-logger.ts';
import type { PolicyObject } from '../../../src/controlplane/kube/resources.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';
import {
  eventually,
  type Cluster,
  type KubeTestenvReady,
} from '../../support/kube-testenv/cluster.ts';

/** Clients from the test kubeconfig, loaded through the controller's own loader. */
export function clientsFor(env: KubeTestenvReady): KubeClients {
  const { kubeConfig, origin } = loadKubeConfig({ kubeconfigPath: env.kubeconfig });
  if (origin !== 'kubeconfig') throw new Error(`expected the test kubeconfig, got ${origin}`);
  return createKubeClients(kubeConfig);
}

/** Installs the generated CRD as a user would and waits until the API serves it. */
export async function installCrd(cluster: Cluster): Promise<void> {
  const file = join(REPO_ROOT, 'crds', `${CRD_NAME}.yaml`);
  const applied = await cluster.kubectl(['apply', '--server-side', '-f', file]);
  if (applied.code !== 0) throw new Error(`CRD install failed: ${applied.output}`);
  // Right after apply the CRD may have no conditions yet, which makes kubectl wait fail at once
  // instead of waiting; ask again until it answers.
  let last = '';
  const wait = await eventually(
    async () => {
      const r = await cluster.kubectl([
        'wait',
        '--for=condition=Established',
        `crd/${CRD_NAME}`,
        '--timeout=60s',
      ]);
      last = r.output;
      return r.code === 0 ? r : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  if (wait === undefined) throw new Error(`CRD not Established: ${last}`);
}

/**
 * Deletes the policies of `namespaces`. Namespaces never finish deleting on a bare API server,
 * and other files (crd.test.ts) expect no policies anywhere right after they install the CRD.
 */
export async function deletePolicies(
  cluster: Cluster,
  namespaces: readonly string[],
): Promise<void> {
  for (const namespace of namespaces) {
    const r = await cluster.kubectl(['delete', 'aicp', '--all', '-n', namespace, '--wait=false']);
    if (r.code !== 0) throw new Error(`could not delete policies in ${namespace}: ${r.output}`);
  }
}

/** The smallest valid policy. */
export function policyBody(name: string, labels: Record<string, string> = {}): PolicyObject {
  return {
    apiVersion: API_VERSION_FULL,
    kind: KIND,
    metadata: { name, labels },
    spec: {
      upstreams: [{ name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' }],
    },
  };
}

/** Group, version, plural, namespace and name of a policy, for CustomObjectsApi calls. */
export function policyRef(namespace: string, name: string) {
  return { group: API_GROUP, version: API_VERSION, plural: CRD_PLURAL, namespace, name };
}

/**
 * Creates a policy through the API. Right after the CRD becomes Established the API server may
 * still answer 404 for a moment, so this retries briefly.
 */
export async function createPolicy(
  clients: KubeClients,
  namespace: string,
  name: string,
  labels: Record<string, string> = {},
): Promise<PolicyObject> {
  const created = await eventually(
    async () => {
      try {
        return (await clients.customObjects.createNamespacedCustomObject({
          group: API_GROUP,
          version: API_VERSION,
          plural: CRD_PLURAL,
          namespace,
          body: policyBody(name, labels),
        })) as PolicyObject;
      } catch (error) {
        if ((error as { code?: unknown }).code === 404) return undefined;
        throw error;
      }
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  if (created === undefined) throw new Error(`could not create policy ${namespace}/${name}`);
  return created;
}

/** Reads a policy as JSON. */
export async function getPolicy(
  clients: KubeClients,
  namespace: string,
  name: string,
): Promise<
  PolicyObject & { metadata: { managedFields?: { manager?: string; subresource?: string }[] } }
> {
  return (await clients.customObjects.getNamespacedCustomObject(
    policyRef(namespace, name),
  )) as PolicyObject & {
    metadata: { managedFields?: { manager?: string; subresource?: string }[] };
  };
}

export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: object;
  readonly message: string;
}

/** A logger that keeps every line, so tests can assert what was (and was not) logged. */
export function recordingLogger(): KubeLogger & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (fields: object, message: string): void => {
      lines.push({ level, fields, message });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Waits until `predicate` holds (checked every 20 ms), failing with `what` after `timeoutMs`. */
export async function until(
  what: string,
  predicate: () => boolean,
  timeoutMs = 10_000,
): Promise<number> {
  const started = performance.now();
  const result = await eventually(() => Promise.resolve(predicate() ? true : undefined), {
    timeoutMs,
    intervalMs: 20,
  });
  if (result === undefined) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return performance.now() - started;
}

/** An error shaped like client-node's ApiException, for wrappers that inject failures. */
export function apiError(code: number): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: { reason: 'Injected' } });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
