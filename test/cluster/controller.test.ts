// The controller against a real kube-apiserver, with real sidecar processes: policies reach
// sidecars within a second and hot-reload, invalid changes are reported while sidecars keep
// the last good policy, circuit state flows back into status, Events and alerts (once per
// policy, not per pod), shared fleet mode, Secret rotation, token checks, and leader failover.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AuthenticationV1TokenRequest,
  PatchStrategy,
  setHeaderOptions,
  V1Pod,
  V1Secret,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildController, type Controller } from '../../src/controlplane/build-controller.ts';
import type { KubeClients } from '../../src/controlplane/kube/kube-client.ts';
import { PROTOCOL_PATHS, SCHEMA_VERSION_HEADER } from '../../src/snapshot/sidecar-protocol.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { createLogger } from '../../src/shared/create-logger.ts';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';
import { connect, eventually, kubeTestenv, type Cluster } from '../support/kube-testenv/cluster.ts';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.ts';
import { metricValue } from './controller-harness.ts';
import { clientsFor, deletePolicies, installCrd } from './kube/kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'controller with real sidecars on a real kube-apiserver';

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let ns: string;
  let leaseNs: string;
  let dir: string;
  let primary: FakeProvider;
  let backup: FakeProvider;
  let receiver: Server;
  let alerts: {
    event: string;
    upstream: string;
    reason: string;
    counts: Record<string, number>;
  }[];
  let controllerA: Controller;
  let controllerB: Controller;
  let urlA: string;
  let urlB: string;
  const sidecars: SidecarProcess[] = [];
  const sidecarAt = (i: number): SidecarProcess => {
    const sc = sidecars[i];
    if (sc === undefined) throw new Error(`no sidecar ${i}`);
    return sc;
  };
  const log = createLogger({ level: 'warn' });

  function policy(spec: Record<string, unknown>): string {
    return stringify(
      {
        apiVersion: 'aicircuit.io/v1alpha1',
        kind: 'AICircuitPolicy',
        metadata: { name: 'chat-egress', namespace: ns },
        spec,
      },
      { version: '1.1' },
    );
  }

  function baseSpec(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      podSelector: { matchLabels: { app: 'chat' } },
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: primary.url },
        {
          name: 'backup',
          provider: 'openai-compatible',
          baseURL: backup.url,
          apiKey: { secretKeyRef: { name: 'backup', key: 'api-key' } },
        },
      ],
      breaker: { failureThreshold: 2, recoveryTimeout: '60s' },
      fallbacks: [{ from: 'openai', to: [{ upstream: 'backup' }] }],
      alerting: {
        events: ['opened', 'closed'],
        webhooks: [{ url: { secretKeyRef: { name: 'alerts', key: 'url' } } }],
      },
      ...extra,
    };
  }

  async function apply(spec: Record<string, unknown>): Promise<void> {
    const result = await cluster.kubectl(['apply', '--server-side', '-f', '-'], {
      input: policy(spec),
    });
    if (result.code !== 0) throw new Error(result.output);
  }

  async function status(): Promise<
    Record<string, unknown> & { conditions?: { type: string; status: string; message: string }[] }
  > {
    const object = (await clients.customObjects.getNamespacedCustomObject({
      group: 'aicircuit.io',
      version: 'v1alpha1',
      namespace: ns,
      plural: 'aicircuitpolicies',
      name: 'chat-egress',
    })) as { status?: Record<string, unknown> };
    return object.status ?? {};
  }

  async function waitFor<T>(
    what: string,
    attempt: () => Promise<T | undefined>,
    timeoutMs = 15_000,
  ): Promise<T> {
    const value = await eventually(attempt, { timeoutMs, intervalMs: 50 });
    if (value === undefined) throw new Error(`timed out waiting for ${what}`);
    return value;
  }

  async function createPod(name: string): Promise<string> {
    const pod = await clients.core.createNamespacedPod({
      namespace: ns,
      body: Object.assign(new V1Pod(), {
        metadata: { name, labels: { app: 'chat', 'aicircuit.io/injected': 'true' } },
        spec: {
          serviceAccountName: 'sidecar',
          containers: [{ name: 'app', image: 'registry.example/app:1' }],
        },
      }),
    });
    return pod.metadata?.uid ?? '';
  }

  async function tokenFile(
    namespace: string,
    pod: { name: string; uid: string } | undefined,
    audience = 'aicircuit.io',
  ): Promise<string> {
    const answer = await clients.core.createNamespacedServiceAccountToken({
      name: 'sidecar',
      namespace,
      body: Object.assign(new AuthenticationV1TokenRequest(), {
        spec: {
          audiences: [audience],
          expirationSeconds: 3600,
          ...(pod === undefined
            ? {}
            : { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid } }),
        },
      }),
    });
    const file = join(
      dir,
      `token-${namespace}-${pod?.name ?? 'unbound'}-${audience.replace(/\W+/g, '_')}`,
    );
    writeFileSync(file, answer.status?.token ?? '');
    return file;
  }

  async function putSecret(name: string, data: Record<string, string>): Promise<void> {
    const body = Object.assign(new V1Secret(), {
      metadata: { name },
      stringData: data,
    });
    try {
      await clients.core.createNamespacedSecret({ namespace: ns, body });
    } catch {
      await clients.core.replaceNamespacedSecret({ namespace: ns, name, body });
    }
  }

  function startController(identity: string): Controller {
    return buildController({
      self: { namespace: leaseNs, podName: identity },
      clients,
      logger: log,
      clock: systemClock,
      identity,
      leaseNamespace: leaseNs,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 400,
      delivery: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      reconcileDebounceMs: 20,
      heartbeatMs: 1000,
      collectProcessMetrics: false,
    });
  }

  const chat = (sc: SidecarProcess, path = 'chat') =>
    path === 'chat'
      ? new OpenAI({
          apiKey: 'sk-app',
          baseURL: `${sc.proxyUrl}/openai/v1`,
          maxRetries: 0,
        }).chat.completions
          .create({ model: 'gpt-4o', messages: [] })
          .withResponse()
      : new OpenAI({
          apiKey: 'sk-app',
          baseURL: `${sc.proxyUrl}/openai/v1`,
          maxRetries: 0,
        }).embeddings
          .create({ model: 'text-embedding-3-small', input: 'x' })
          .withResponse();

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
    ns = await cluster.createNamespace('ctl');
    leaseNs = await cluster.createNamespace('ctl-system');
    dir = mkdtempSync(join(tmpdir(), 'aicb-ctl-'));
    primary = await startFakeProvider({ api: 'openai' });
    backup = await startFakeProvider({ api: 'openai' });
    alerts = [];
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        alerts.push(JSON.parse(body) as (typeof alerts)[number]);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    await clients.core.createNamespacedServiceAccount({
      namespace: ns,
      body: Object.assign(new V1ServiceAccount(), { metadata: { name: 'sidecar' } }),
    });
    await putSecret('backup', { 'api-key': 'sk-backup-v1' });
    await putSecret('alerts', {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
    });

    // Pod objects standing in for the controller replicas, which label themselves when leading.
    for (const name of ['controller-a', 'controller-b']) {
      await clients.core.createNamespacedPod({
        namespace: leaseNs,
        body: Object.assign(new V1Pod(), {
          metadata: { name, labels: { app: 'aicb-controller' } },
          spec: { serviceAccountName: 'default', containers: [{ name: 'controller', image: 'x' }] },
        }),
      });
    }
    controllerA = startController('controller-a');
    await controllerA.start();
    urlA = (await controllerA.listen()).deliveryUrl;
    await waitFor('controller-a to lead', () =>
      Promise.resolve(controllerA.isLeader ? true : undefined),
    );
    controllerB = startController('controller-b');
    await controllerB.start();
    urlB = (await controllerB.listen()).deliveryUrl;

    for (const name of ['chat-1', 'chat-2']) {
      const uid = await createPod(name);
      const token = await tokenFile(ns, { name, uid });
      sidecars.push(
        await startSidecarProcess([
          '--controller',
          `${urlA},${urlB}`,
          '--token-file',
          token,
          '--state-dir',
          join(dir, name),
          '--log-level',
          'info',
        ]),
      );
    }
  }, 120_000);

  afterAll(async () => {
    if (!env.available) return;
    await Promise.all(sidecars.map((s) => s.stop('SIGKILL')));
    await controllerA.stop().catch(() => undefined);
    await controllerB.stop().catch(() => undefined);
    await primary.close();
    await backup.close();
    await new Promise<void>((resolve) =>
      receiver.close(() => {
        resolve();
      }),
    );
    await deletePolicies(cluster, [ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers an applied policy to every selected sidecar within a second, and reports Ready', async () => {
    const started = performance.now();
    await apply(baseSpec());
    const hashes = await waitFor('both sidecars to run the policy', async () => {
      const all = await Promise.all(sidecars.map((s) => s.readyHash()));
      return all.every((h) => h !== undefined) ? all : undefined;
    });
    const delayMs = performance.now() - started;
    console.log(`apply -> both sidecars running the policy: ${delayMs.toFixed(0)} ms`);
    expect(delayMs).toBeLessThan(5000);
    expect(hashes[0]).toBe(hashes[1]);
    const ready = await waitFor('Ready=True', async () => {
      const s = await status();
      return s.conditions?.find((c) => c.type === 'Ready' && c.status === 'True') === undefined
        ? undefined
        : s;
    });
    expect(ready.sidecars).toEqual({ selected: 2, connected: 2, acknowledged: 2, rejected: 0 });
    expect(ready.conditions?.find((c) => c.type === 'Accepted')?.status).toBe('True');
    // The threshold of the policy is enforced: two failures open the circuit.
    primary.setDefault({ type: 'status', status: 503 });
    const sc = sidecarAt(0);
    await chat(sc);
    await chat(sc);
    expect((await sc.health()).providers.openai).toBe('open');
    primary.setDefault({ type: 'ok' });
  });

  it('writes circuit state into status, one Event and one alert for the fleet', async () => {
    // The second sidecar opens too; the policy-level transition happened once.
    primary.setDefault({ type: 'status', status: 503 });
    const second = sidecarAt(1);
    await chat(second);
    await chat(second);
    const s = await waitFor('status with the open circuit in 2 sidecars', async () => {
      const current = await status();
      const circuit = (
        current.circuits as { upstream: string; openSidecars: number }[] | undefined
      )?.find((c) => c.upstream === 'openai');
      return circuit?.openSidecars === 2 ? current : undefined;
    });
    primary.setDefault({ type: 'ok' });
    expect(s.openCircuits).toBe(1);
    expect(s.conditions?.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True' });
    const table = await cluster.kubectl(['get', 'aicp', '-n', ns]);
    expect(table.stdout).toMatch(/chat-egress\s+openai,backup\s+1\s+True\s+True/);
    const events = await waitFor('one CircuitOpened event', async () => {
      const r = await cluster.kubectl([
        'get',
        'events',
        '-n',
        ns,
        '--field-selector',
        'reason=CircuitOpened',
        '-o',
        'json',
      ]);
      const items = (JSON.parse(r.stdout) as { items: { count?: number; message: string }[] })
        .items;
      return items.length > 0 ? items : undefined;
    });
    expect(events).toHaveLength(1);
    expect(events[0]?.count ?? 1).toBe(1);
    // Why it opened, from the sidecar that tripped it (threshold 2).
    expect(events[0]?.message).toMatch(
      /^Circuit openai\/chat opened in [12] of 2 sidecars: consecutive_failures \(2 consecutive failures; 2 of \d+ calls in the window failed\)$/,
    );
    await waitFor('the opened alert', () =>
      Promise.resolve(alerts.some((a) => a.event === 'opened') ? true : undefined),
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(alerts.filter((a) => a.event === 'opened')).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      upstream: 'openai',
      reason: 'consecutive_failures',
      counts: { sidecars: 2, consecutiveFailures: 2 },
    });
  });

  it('hot-reloads an edited policy without restarting the sidecars', async () => {
    const before = await sidecars[0]?.readyHash();
    await apply(baseSpec({ breaker: { failureThreshold: 4, recoveryTimeout: '60s' } }));
    await waitFor('the new hash in both sidecars', async () => {
      const hashes = await Promise.all(sidecars.map((s) => s.readyHash()));
      return hashes.every((h) => h !== undefined && h !== before) ? true : undefined;
    });
    const health = await sidecars[0]?.health();
    // Circuit state survived the reload (still open), with the new threshold in force.
    expect(health?.providers.openai).toBe('open');
    expect(health?.endpoints.openai?.chat?.[0]?.failureThreshold).toBe(4);
  });

  it('reports an invalid change in status and leaves sidecars on the last good policy', async () => {
    const good = await sidecars[0]?.readyHash();
    await apply(
      baseSpec({
        upstreams: [
          { name: 'openai', provider: 'openai', baseURL: primary.url },
          {
            name: 'backup',
            provider: 'openai-compatible',
            baseURL: backup.url,
            apiKey: { secretKeyRef: { name: 'missing', key: 'api-key' } },
          },
        ],
      }),
    );
    const accepted = await waitFor('Accepted=False', async () => {
      const c = (await status()).conditions?.find((x) => x.type === 'Accepted');
      return c?.status === 'False' ? c : undefined;
    });
    expect(accepted.message).toContain('Secret keys not found in namespace');
    expect(accepted.message).toContain('missing/api-key');
    await new Promise((r) => setTimeout(r, 500));
    expect(await sidecars[0]?.readyHash()).toBe(good);
    await apply(baseSpec({ breaker: { failureThreshold: 4, recoveryTimeout: '60s' } }));
    await waitFor('Accepted=True again', async () => {
      const c = (await status()).conditions?.find((x) => x.type === 'Accepted');
      return c?.status === 'True' ? true : undefined;
    });
  });

  it('carries a rotated Secret to the sidecars', async () => {
    await putSecret('backup', { 'api-key': 'sk-backup-v2' });
    primary.setDefault({ type: 'status', status: 503 });
    const sc = sidecarAt(0);
    await waitFor('the rotated key at the backup', async () => {
      await chat(sc);
      return backup.requests.at(-1)?.headers.authorization === 'Bearer sk-backup-v2'
        ? true
        : undefined;
    });
    primary.setDefault({ type: 'ok' });
    // The key never shows in the sidecar's logs.
    expect(sc.output()).not.toContain('sk-backup-v2');
  });

  it('opens a circuit in every sidecar of a shared-fleet policy after one sidecar trips', async () => {
    const [first, second] = sidecars as [SidecarProcess, SidecarProcess];
    const previous = await first.readyHash();
    await apply(
      baseSpec({
        fleet: { mode: 'shared' },
        breaker: { failureThreshold: 2, recoveryTimeout: '60s' },
      }),
    );
    const hash = await waitFor('shared policy running', async () => {
      const hashes = await Promise.all(sidecars.map((s) => s.readyHash()));
      return hashes[0] !== previous && hashes[0] === hashes[1] ? hashes[0] : undefined;
    });
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    primary.setDefault({ type: 'status', status: 500 });
    await chat(first, 'embeddings');
    await chat(first, 'embeddings');
    primary.setDefault({ type: 'ok' });
    const state = await waitFor('the second sidecar to follow', async () => {
      const e = (await second.health()).endpoints.openai?.embeddings?.[0]?.state;
      return e === 'open' ? e : undefined;
    });
    expect(state).toBe('open');
    // The second sidecar never called the failing upstream for embeddings itself.
    const calls = primary.requests.filter((r) => r.url.includes('embeddings')).length;
    expect(calls).toBe(2);
  });

  it('refuses tokens that are not bound to a pod of the cluster, or meant for another audience', async () => {
    const stream = async (file: string) => {
      const token = (await import('node:fs')).readFileSync(file, 'utf8');
      const res = await fetch(`${urlA}${PROTOCOL_PATHS.stream}`, {
        headers: { authorization: `Bearer ${token}`, [SCHEMA_VERSION_HEADER]: '1' },
        signal: AbortSignal.timeout(3000),
      });
      await res.body?.cancel();
      return res.status;
    };
    expect(await stream(await tokenFile(ns, undefined))).toBe(403);
    // A pod the injector did not make (no aicircuit.io/injected=true) gets nothing, even with a
    // valid pod-bound token and labels its namespace's policy selects.
    const handmade = await clients.core.createNamespacedPod({
      namespace: ns,
      body: Object.assign(new V1Pod(), {
        metadata: { name: 'handmade', labels: { app: 'chat' } },
        spec: { serviceAccountName: 'sidecar', containers: [{ name: 'app', image: 'x' }] },
      }),
    });
    const notInjectedBefore = await metricValue(
      controllerA,
      'aicb_controller_auth_failures_total{reason="not_injected"}',
    );
    expect(
      await stream(await tokenFile(ns, { name: 'handmade', uid: handmade.metadata?.uid ?? '' })),
    ).toBe(403);
    expect(
      await metricValue(controllerA, 'aicb_controller_auth_failures_total{reason="not_injected"}'),
    ).toBe(notInjectedBefore + 1);
    expect(controllerA.hub.session(`${ns}/handmade`)).toBeUndefined();
    expect(((await status()).sidecars as { connected: number }).connected).toBe(2);
    const uid =
      (await clients.core.readNamespacedPod({ namespace: ns, name: 'chat-1' })).metadata?.uid ?? '';
    expect(
      await stream(await tokenFile(ns, { name: 'chat-1', uid }, 'https://kubernetes.default.svc')),
    ).toBe(401);
    // A sidecar in another namespace gets its own namespace's policy: here, none.
    const other = await cluster.createNamespace('ctl-other');
    await clients.core.createNamespacedServiceAccount({
      namespace: other,
      body: Object.assign(new V1ServiceAccount(), { metadata: { name: 'sidecar' } }),
    });
    const pod = await clients.core.createNamespacedPod({
      namespace: other,
      body: Object.assign(new V1Pod(), {
        metadata: { name: 'chat-1', labels: { app: 'chat', 'aicircuit.io/injected': 'true' } },
        spec: { serviceAccountName: 'sidecar', containers: [{ name: 'app', image: 'x' }] },
      }),
    });
    const outsider = await startSidecarProcess([
      '--controller',
      urlA,
      '--token-file',
      await tokenFile(other, { name: 'chat-1', uid: pod.metadata?.uid ?? '' }),
    ]);
    try {
      await waitFor('the outsider to connect', () =>
        Promise.resolve(controllerA.hub.session(`${other}/chat-1`) ? true : undefined),
      );
      await new Promise((r) => setTimeout(r, 500));
      expect(await outsider.readyHash()).toBeUndefined();
      expect(controllerA.hub.session(`${other}/chat-1`)?.sentHash).toBeUndefined();
    } finally {
      await outsider.stop();
    }
  });

  it('labels only the leader pod, which the delivery Service selects', async () => {
    const label = async (name: string) =>
      (await clients.core.readNamespacedPod({ namespace: leaseNs, name })).metadata?.labels?.[
        'aicircuit.io/leader'
      ];
    expect(
      await waitFor('the leader label', async () => (await label('controller-a')) ?? undefined),
    ).toBe('true');
    expect(await label('controller-b')).toBeUndefined();
  });

  it('keeps sidecars serving when the leader dies, and a standby takes over', async () => {
    const hash = await sidecars[0]?.readyHash();
    const killedAt = performance.now();
    await controllerA.stop({ release: false }); // a crash: the lease is left to expire
    // A crashed process cannot clear its pod's leader label as this in-process stop does; put the
    // label back the way a real crash leaves it (once the stop's own clearing has landed).
    const leaderLabelOfA = async () =>
      (await clients.core.readNamespacedPod({ namespace: leaseNs, name: 'controller-a' })).metadata
        ?.labels?.['aicircuit.io/leader'];
    await waitFor('the stop to clear its label', async () =>
      (await leaderLabelOfA()) === undefined ? true : undefined,
    );
    await clients.core.patchNamespacedPod(
      {
        namespace: leaseNs,
        name: 'controller-a',
        body: { metadata: { labels: { 'aicircuit.io/leader': 'true' } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // Sidecars keep serving with their last good policy meanwhile.
    const { response } = await chat(sidecarAt(1));
    expect(response.status).toBe(200);
    expect(await sidecars[1]?.readyHash()).toBe(hash);
    await waitFor(
      'controller-b to lead',
      () => Promise.resolve(controllerB.isLeader ? true : undefined),
      20_000,
    );
    await waitFor(
      'both sidecars on controller-b',
      () => Promise.resolve(controllerB.hub.size === 2 ? true : undefined),
      30_000,
    );
    console.log(
      `leader crash -> standby serving both sidecars: ${(performance.now() - killedAt).toFixed(0)} ms`,
    );
    const newLeader = await clients.core.readNamespacedPod({
      namespace: leaseNs,
      name: 'controller-b',
    });
    expect(newLeader.metadata?.labels?.['aicircuit.io/leader']).toBe('true');
    // The crashed leader's pod is still there with its label; the new leader clears it so the
    // delivery Service stops sending sidecars to it.
    await waitFor('the former leader label cleared', async () =>
      (await leaderLabelOfA()) === undefined ? true : undefined,
    );
    // The new leader writes status.
    await apply(
      baseSpec({
        fleet: { mode: 'shared' },
        breaker: { failureThreshold: 3, recoveryTimeout: '60s' },
      }),
    );
    await waitFor('status from the new leader', async () => {
      const s = await status();
      const ready = s.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'True' && (s.sidecars as { acknowledged: number }).acknowledged === 2
        ? true
        : undefined;
    });
  }, 90_000);
});
