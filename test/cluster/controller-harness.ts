// What the controller's cluster tests share: an in-process controller on the test API server
// (leading, on port 0), pods as the injector labels them with pod-bound tokens for their
// sidecars, policies applied the way a user applies them, and readers for status and Events.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthenticationV1TokenRequest, V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import {
  buildController,
  type Controller,
  type ControllerOptions,
} from '../../src/controlplane/build-controller.ts';
import type { KubeClients } from '../../src/controlplane/kube/kube-client.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { createLogger, type Logger } from '../../src/shared/create-logger.ts';
import { eventually, type Cluster } from '../support/kube-testenv/cluster.ts';

/** Builds, starts and listens a controller that leads alone in `leaseNamespace`. */
export async function startLeadingController(
  clients: KubeClients,
  leaseNamespace: string,
  identity: string,
  extra: Partial<ControllerOptions> = {},
): Promise<{
  controller: Controller;
  deliveryUrl: string;
  adminUrl: string;
  webhookUrl: string | undefined;
}> {
  const controller = buildController({
    clients,
    logger: extra.logger ?? createLogger({ level: 'warn' }),
    clock: systemClock,
    identity,
    leaseNamespace,
    leaseDurationMs: 3000,
    renewDeadlineMs: 2000,
    retryPeriodMs: 400,
    delivery: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    reconcileDebounceMs: 20,
    heartbeatMs: 1000,
    collectProcessMetrics: false,
    ...extra,
  });
  await controller.start();
  const { deliveryUrl, adminUrl, webhookUrl } = await controller.listen();
  await waitFor(`${identity} to lead`, () =>
    Promise.resolve(controller.isLeader ? true : undefined),
  );
  return { controller, deliveryUrl, adminUrl, webhookUrl };
}

/** Retries `attempt` until it returns a value, failing with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const value = await eventually(attempt, { timeoutMs, intervalMs: 50 });
  if (value === undefined) throw new Error(`timed out waiting for ${what}`);
  return value;
}

/** The ServiceAccount the test sidecars run as. */
export async function createSidecarAccount(clients: KubeClients, namespace: string): Promise<void> {
  await clients.core.createNamespacedServiceAccount({
    namespace,
    body: Object.assign(new V1ServiceAccount(), { metadata: { name: 'sidecar' } }),
  });
}

/** A pod as the injector leaves it (label `aicircuit.io/injected=true`); returns its uid. */
export async function createInjectedPod(
  clients: KubeClients,
  namespace: string,
  name: string,
  labels: Record<string, string>,
): Promise<string> {
  const pod = await clients.core.createNamespacedPod({
    namespace,
    body: Object.assign(new V1Pod(), {
      metadata: { name, labels: { ...labels, 'aicircuit.io/injected': 'true' } },
      spec: {
        serviceAccountName: 'sidecar',
        containers: [{ name: 'app', image: 'registry.example/app:1' }],
      },
    }),
  });
  return pod.metadata?.uid ?? '';
}

/** A pod-bound projected token (audience aicircuit.io) written to a file in `dir`. */
export async function podTokenFile(
  clients: KubeClients,
  dir: string,
  namespace: string,
  pod: { name: string; uid: string },
): Promise<string> {
  const answer = await clients.core.createNamespacedServiceAccountToken({
    name: 'sidecar',
    namespace,
    body: Object.assign(new AuthenticationV1TokenRequest(), {
      spec: {
        audiences: ['aicircuit.io'],
        expirationSeconds: 3600,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid },
      },
    }),
  });
  const file = join(dir, `token-${namespace}-${pod.name}`);
  writeFileSync(file, answer.status?.token ?? '');
  return file;
}

/** `kubectl apply --server-side` of a policy, as a user applies it. */
export async function applyPolicy(
  cluster: Cluster,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<void> {
  const yaml = stringify(
    {
      apiVersion: 'aicircuit.io/v1alpha1',
      kind: 'AICircuitPolicy',
      metadata: { name, namespace },
      spec,
    },
    { version: '1.1' },
  );
  const result = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: yaml });
  if (result.code !== 0) throw new Error(result.output);
}

export interface StatusCondition {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
}

/** A policy's status as stored. */
export async function policyStatus(
  clients: KubeClients,
  namespace: string,
  name: string,
): Promise<Record<string, unknown> & { conditions?: StatusCondition[] }> {
  const object = (await clients.customObjects.getNamespacedCustomObject({
    group: 'aicircuit.io',
    version: 'v1alpha1',
    namespace,
    plural: 'aicircuitpolicies',
    name,
  })) as { status?: Record<string, unknown> & { conditions?: StatusCondition[] } };
  return object.status ?? {};
}

/** Events of a namespace with one reason, as `kubectl get events` lists them. */
export async function eventsWithReason(
  cluster: Cluster,
  namespace: string,
  reason: string,
): Promise<{ type: string; message: string; count?: number; involvedObject: { name: string } }[]> {
  const r = await cluster.kubectl([
    'get',
    'events',
    '-n',
    namespace,
    '--field-selector',
    `reason=${reason}`,
    '-o',
    'json',
  ]);
  if (r.code !== 0) throw new Error(r.output);
  return (
    JSON.parse(r.stdout) as {
      items: {
        type: string;
        message: string;
        count?: number;
        involvedObject: { name: string };
      }[];
    }
  ).items;
}

/** A sample of a controller's /metrics (0 when absent), read through its built admin app. */
export async function metricValue(controller: Controller, series: string): Promise<number> {
  const text = (await controller.admin.inject({ url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** A real pino logger whose JSON lines are kept, so tests can assert what was logged. */
export function capturingLogger(level = 'info'): { logger: Logger; lines: () => string[] } {
  const lines: string[] = [];
  const logger = createLogger({
    level,
    destination: {
      write(line: string) {
        lines.push(line);
      },
    },
  });
  return { logger, lines: () => lines };
}

export type { Logger };
