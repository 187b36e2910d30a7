// Resync after a controller restart, against a real kube-apiserver with real sidecar processes:
// a policy changed while the controller was down for 20 s (long enough for an uncapped
// exponential backoff to reach waits of 8 to 16 s) reaches every sidecar within 3 s of the
// controller leading and Ready again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Controller } from '../../src/controlplane/build-controller.ts';
import type { KubeClients } from '../../src/controlplane/kube/kube-client.ts';
import { freePort } from '../support/free-port.ts';
import { connect, kubeTestenv, type Cluster } from '../support/kube-testenv/cluster.ts';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.ts';
import {
  applyPolicy,
  createInjectedPod,
  createSidecarAccount,
  podTokenFile,
  startLeadingController,
  waitFor,
} from './controller-harness.ts';
import { clientsFor, deletePolicies, installCrd } from './kube/kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'resync after a controller restart on a real kube-apiserver';
const SIDECARS = 3;
const DOWN_MS = 20_000;
const RESYNC_TARGET_MS = 3_000;

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let ns: string;
  let leaseNs: string;
  let dir: string;
  let port: number;
  let controller: Controller | undefined;
  let firstHash: string | undefined;
  const sidecars: SidecarProcess[] = [];

  const spec = (failureThreshold: number) => ({
    podSelector: { matchLabels: { app: 'chat' } },
    upstreams: [{ name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' }],
    breaker: { failureThreshold },
  });
  const start = (identity: string) =>
    startLeadingController(clients, leaseNs, identity, {
      delivery: { host: '127.0.0.1', port },
      // The default lease timings: what a real restart waits for.
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    });

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
    ns = await cluster.createNamespace('resync');
    leaseNs = await cluster.createNamespace('resync-system');
    dir = mkdtempSync(join(tmpdir(), 'aicb-resync-'));
    port = await freePort();
    await createSidecarAccount(clients, ns);
    ({ controller } = await start('resync-a'));
    await applyPolicy(cluster, ns, 'chat-egress', spec(3));
    for (let i = 0; i < SIDECARS; i++) {
      const name = `chat-${i}`;
      const uid = await createInjectedPod(clients, ns, name, { app: 'chat' });
      const token = await podTokenFile(clients, dir, ns, { name, uid });
      sidecars.push(
        await startSidecarProcess([
          '--controller',
          `http://127.0.0.1:${port}`,
          '--token-file',
          token,
          '--state-dir',
          join(dir, name),
        ]),
      );
    }
    firstHash = await waitFor('the first policy in every sidecar', async () => {
      const hashes = await Promise.all(sidecars.map((sc) => sc.readyHash()));
      return hashes.every((h) => h !== undefined && h === hashes[0]) ? hashes[0] : undefined;
    });
  }, 60_000);

  afterAll(async () => {
    if (!env.available) return;
    await Promise.all(sidecars.map((s) => s.stop('SIGKILL')));
    await controller?.stop();
    await deletePolicies(cluster, [ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it(`delivers a change made while the controller was down within ${RESYNC_TARGET_MS} ms of it being Ready`, async () => {
    await controller?.stop({ release: true });
    controller = undefined;
    await applyPolicy(cluster, ns, 'chat-egress', spec(7));
    await new Promise((resolve) => setTimeout(resolve, DOWN_MS));
    // Sidecars kept serving with the policy they had.
    expect(await sidecars[0]?.readyHash()).toBe(firstHash);

    const started = await start('resync-b');
    controller = started.controller;
    const readyAt = await waitFor('the new controller to be Ready', async () => {
      const res = await fetch(`${started.adminUrl}/readyz`);
      const body = (await res.json()) as { status?: string };
      return res.status === 200 && body.status === 'leader' ? performance.now() : undefined;
    });
    const delays = await Promise.all(
      sidecars.map((sc) =>
        waitFor(
          'the change in every sidecar',
          async () => {
            const hash = await sc.readyHash();
            return hash !== undefined && hash !== firstHash
              ? performance.now() - readyAt
              : undefined;
          },
          30_000,
        ),
      ),
    );
    console.log(
      `resync after ${DOWN_MS / 1000} s down: ${delays.map((d) => `${d.toFixed(0)} ms`).join(', ')} after Ready`,
    );
    expect(Math.max(...delays)).toBeLessThanOrEqual(RESYNC_TARGET_MS);
  }, 90_000);
});
