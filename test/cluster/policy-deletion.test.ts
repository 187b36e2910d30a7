// Deleting a policy ends its enforcement, against a real kube-apiserver with a real sidecar
// process: the sidecar is released to a transparent pass-through (a forcedOpen override ends,
// the app's own credentials reach its provider), the policy's resolved Secret leaves the
// sidecar's state file, a restart keeps the pass-through, the sidecar's health and the
// controller's metrics and logs say so, and a new policy takes the sidecar back.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Controller } from '../../src/controlplane/build-controller.ts';
import type { KubeClients } from '../../src/controlplane/kube/kube-client.ts';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';
import { connect, kubeTestenv, type Cluster } from '../support/kube-testenv/cluster.ts';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.ts';
import {
  applyPolicy,
  capturingLogger,
  createInjectedPod,
  createSidecarAccount,
  metricValue,
  podTokenFile,
  startLeadingController,
  waitFor,
} from './controller-harness.ts';
import { clientsFor, deletePolicies, installCrd } from './kube/kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'deleting a policy on a real kube-apiserver';

interface Health {
  policy: { mode: string; passThroughSince: string | null; name: string } | null;
  providers: Record<string, string>;
}

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let ns: string;
  let dir: string;
  let provider: FakeProvider;
  let controller: Controller;
  let deliveryUrl: string;
  let log: ReturnType<typeof capturingLogger>;
  let sidecar: SidecarProcess;
  let token: string;
  const stateDir = () => join(dir, 'state');
  const stateFile = () => readFileSync(join(stateDir(), 'last-good-snapshot.json'), 'utf8');
  const health = async (sc: SidecarProcess) => (await sc.health()) as unknown as Health;

  const startSidecar = () =>
    startSidecarProcess([
      '--controller',
      deliveryUrl,
      '--token-file',
      token,
      '--state-dir',
      stateDir(),
      '--log-level',
      'info',
    ]);

  /** A chat completion as the app's SDK sends it, with the app's own key. */
  const chat = (sc: SidecarProcess) =>
    fetch(`${sc.proxyUrl}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-app-own' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
    ns = await cluster.createNamespace('delete');
    const leaseNs = await cluster.createNamespace('delete-system');
    dir = mkdtempSync(join(tmpdir(), 'aicb-delete-'));
    provider = await startFakeProvider({ api: 'openai' });
    await createSidecarAccount(clients, ns);
    await clients.core.createNamespacedSecret({
      namespace: ns,
      body: Object.assign(new V1Secret(), {
        metadata: { name: 'backup' },
        stringData: { 'api-key': 'sk-delivered-secret' },
      }),
    });
    const uid = await createInjectedPod(clients, ns, 'chat-1', { app: 'chat' });
    token = await podTokenFile(clients, dir, ns, { name: 'chat-1', uid });
    log = capturingLogger();
    ({ controller, deliveryUrl } = await startLeadingController(clients, leaseNs, 'delete-ctl', {
      logger: log.logger,
    }));
    sidecar = await startSidecar();
  }, 60_000);

  afterAll(async () => {
    if (!env.available) return;
    await sidecar.stop('SIGKILL');
    await controller.stop();
    await provider.close();
    await deletePolicies(cluster, [ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('enforces the policy while it exists (a forcedOpen upstream fails fast)', async () => {
    await applyPolicy(cluster, ns, 'chat-egress', {
      podSelector: { matchLabels: { app: 'chat' } },
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: provider.url },
        {
          name: 'backup',
          provider: 'openai-compatible',
          baseURL: 'http://127.0.0.1:9',
          apiKey: { secretKeyRef: { name: 'backup', key: 'api-key' } },
        },
      ],
      overrides: [{ upstream: 'openai', state: 'forcedOpen', reason: 'INC-42' }],
    });
    await waitFor('the sidecar to run the policy', () => sidecar.readyHash());
    const res = await chat(sidecar);
    expect(res.status).toBe(503);
    expect(res.headers.get('x-aicb-error')).toBe('AICB_CIRCUIT_OPEN');
    await res.body?.cancel();
    expect(provider.requests).toHaveLength(0);
    // The resolved Secret is on disk while the policy governs (what deletion must remove). The
    // file is written right after the policy is applied, so it may lag the readiness seen above.
    const persisted = await waitFor('the policy on disk', () => {
      const text = existsSync(join(stateDir(), 'last-good-snapshot.json')) ? stateFile() : '';
      return Promise.resolve(text.includes('sk-delivered-secret') ? text : undefined);
    });
    expect(persisted).toContain('sk-delivered-secret');
    expect((await health(sidecar)).policy?.mode).toBe('enforcing');
  });

  it('turns the sidecar into a transparent pass-through when the policy is deleted', async () => {
    const releasesBefore = await metricValue(controller, 'aicb_controller_releases_total');
    const deleted = await cluster.kubectl(['delete', 'aicp', 'chat-egress', '-n', ns]);
    expect(deleted.code).toBe(0);
    const released = await waitFor('the sidecar to pass through', async () => {
      const h = await health(sidecar);
      return h.policy?.mode === 'pass-through' ? h : undefined;
    });
    expect(released.policy?.name).toBe('chat-egress');
    expect(released.policy?.passThroughSince).toMatch(/^\d{4}-\d\d-\d\dT/);
    // The forcedOpen override ended with the policy: the request reaches the provider, with the
    // app's own key.
    const res = await chat(sidecar);
    expect(res.status).toBe(200);
    await res.body?.cancel();
    expect(provider.requests.at(-1)?.headers.authorization).toBe('Bearer sk-app-own');
    // The delivered Secret is gone from the state file; what is there is the pass-through (the
    // file is written right after the switch, so the request above may have been faster).
    const persisted = await waitFor('the pass-through on disk', () => {
      const text = stateFile();
      return Promise.resolve(text.includes('sk-delivered-secret') ? undefined : text);
    });
    expect(persisted).not.toContain('sk-delivered-secret');
    expect(JSON.parse(persisted)).toMatchObject({
      passThrough: { formerPolicy: { namespace: ns, name: 'chat-egress' } },
    });
    // The controller's metrics and log say it.
    expect(await metricValue(controller, 'aicb_controller_released_sidecars')).toBe(1);
    expect(await metricValue(controller, 'aicb_controller_releases_total')).toBe(
      releasesBefore + 1,
    );
    expect(
      log
        .lines()
        .some((l) =>
          l.includes(
            'no policy governs these pods any more: their sidecars now pass requests through unchanged',
          ),
        ),
    ).toBe(true);
    expect(sidecar.output()).toContain('no policy governs this pod any more');
    expect(sidecar.output()).not.toContain('sk-delivered-secret');
  });

  it('stays a pass-through across a sidecar restart', async () => {
    await sidecar.stop();
    sidecar = await startSidecar();
    const h = await health(sidecar);
    expect(h.policy?.mode).toBe('pass-through');
    const res = await chat(sidecar);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });

  it('is governed again by the next policy that selects the pod', async () => {
    await applyPolicy(cluster, ns, 'chat-egress-2', {
      podSelector: { matchLabels: { app: 'chat' } },
      upstreams: [{ name: 'openai', provider: 'openai', baseURL: provider.url }],
      overrides: [{ upstream: 'openai', state: 'forcedOpen' }],
    });
    await waitFor('the sidecar to enforce again', async () =>
      (await health(sidecar)).policy?.mode === 'enforcing' ? true : undefined,
    );
    const res = await chat(sidecar);
    expect(res.status).toBe(503);
    await res.body?.cancel();
    expect(await metricValue(controller, 'aicb_controller_released_sidecars')).toBe(0);
  });
});
