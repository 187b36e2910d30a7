// Every alert event of `spec.alerting.events` in cluster mode, against a real kube-apiserver with
// real sidecar processes: opened, allTargetsOpen, halfOpen and closed each reach the receiver
// once for the fleet (two sidecars refusing and probing the same circuit), sent by the leader,
// and the leader's aicb_alert* metrics count what it delivered and what a dead receiver refused.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  createInjectedPod,
  createSidecarAccount,
  metricValue,
  podTokenFile,
  startLeadingController,
  waitFor,
} from './controller-harness.ts';
import { clientsFor, deletePolicies, installCrd } from './kube/kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'every alert event in cluster mode, once for the fleet, on a real kube-apiserver';

interface ReceivedAlert {
  event: string;
  upstream: string;
  endpoint: string;
  fromState: string;
  toState: string;
  reason: string;
  note?: string;
  counts: Record<string, number>;
  source: { kind: string; id: string };
}

/** An HTTP receiver on loopback answering every POST with `status`, keeping the JSON bodies. */
async function receiver(
  status: number,
): Promise<{ server: Server; url: string; got: ReceivedAlert[] }> {
  const got: ReceivedAlert[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push(JSON.parse(body) as ReceivedAlert);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let ns: string;
  let leaseNs: string;
  let dir: string;
  let primary: FakeProvider;
  let backup: FakeProvider;
  let good: Awaited<ReturnType<typeof receiver>>;
  let dead: Awaited<ReturnType<typeof receiver>>;
  let controller: Controller;
  let deliveryUrl: string;
  const sidecars: SidecarProcess[] = [];

  const chat = (sc: SidecarProcess): Promise<Response> =>
    fetch(`${sc.proxyUrl}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-app' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
  const of = (event: string, upstream = 'openai') =>
    good.got.filter((a) => a.event === event && a.upstream === upstream);

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
    ns = await cluster.createNamespace('alerts');
    leaseNs = await cluster.createNamespace('alerts-system');
    dir = mkdtempSync(join(tmpdir(), 'aicb-alerts-'));
    primary = await startFakeProvider({ api: 'openai' });
    backup = await startFakeProvider({ api: 'openai' });
    good = await receiver(204);
    // A receiver that refuses for good (410): every delivery to it fails without retries.
    dead = await receiver(410);
    await createSidecarAccount(clients, ns);
    await clients.core.createNamespacedSecret({
      namespace: ns,
      body: Object.assign(new V1Secret(), {
        metadata: { name: 'alerting' },
        stringData: { good: good.url, dead: dead.url, backup: 'sk-backup' },
      }),
    });
    ({ controller, deliveryUrl } = await startLeadingController(clients, leaseNs, 'alerts-a'));
    await applyPolicy(cluster, ns, 'chat-egress', {
      podSelector: { matchLabels: { app: 'chat' } },
      upstreams: [
        { name: 'openai', provider: 'openai', baseURL: primary.url },
        {
          name: 'backup',
          provider: 'openai-compatible',
          baseURL: backup.url,
          apiKey: { secretKeyRef: { name: 'alerting', key: 'backup' } },
        },
      ],
      breaker: { failureThreshold: 1, recoveryTimeout: '1s', successThreshold: 1 },
      fallbacks: [{ from: 'openai', to: [{ upstream: 'backup' }] }],
      alerting: {
        events: ['opened', 'halfOpen', 'closed', 'allTargetsOpen'],
        webhooks: [
          { url: { secretKeyRef: { name: 'alerting', key: 'good' } } },
          { url: { secretKeyRef: { name: 'alerting', key: 'dead' } } },
        ],
      },
    });
    for (const name of ['chat-0', 'chat-1']) {
      const uid = await createInjectedPod(clients, ns, name, { app: 'chat' });
      const token = await podTokenFile(clients, dir, ns, { name, uid });
      sidecars.push(
        await startSidecarProcess([
          '--controller',
          deliveryUrl,
          '--token-file',
          token,
          '--state-dir',
          join(dir, name),
        ]),
      );
    }
    await waitFor('the policy in both sidecars', async () => {
      const hashes = await Promise.all(sidecars.map((sc) => sc.readyHash()));
      return hashes.every((h) => h !== undefined) ? true : undefined;
    });
  }, 120_000);

  afterAll(async () => {
    if (!env.available) return;
    await Promise.all(sidecars.map((s) => s.stop('SIGKILL')));
    await controller.stop().catch(() => undefined);
    await primary.close();
    await backup.close();
    for (const r of [good, dead]) await new Promise((resolve) => r.server.close(resolve));
    await deletePolicies(cluster, [ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends opened and allTargetsOpen once for two sidecars whose every target is open', async () => {
    primary.setDefault({ type: 'status', status: 503 });
    backup.setDefault({ type: 'status', status: 503 });
    for (const sc of sidecars) {
      // The first call opens both circuits (threshold 1); the next ones find every target open.
      await chat(sc);
      for (let i = 0; i < 3; i++) {
        const res = await chat(sc);
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe(
          'AICB_CIRCUIT_OPEN',
        );
      }
      // The second sidecar's report comes after the first one's alerts went out: a repeat the
      // fleet must not send again (not merely two reports folded into one look).
      await waitFor('opened (both upstreams) and allTargetsOpen at the receiver', () =>
        Promise.resolve(
          of('opened').length > 0 &&
            of('opened', 'backup').length > 0 &&
            of('allTargetsOpen').length > 0
            ? true
            : undefined,
        ),
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(of('opened')).toHaveLength(1);
    expect(of('opened', 'backup')).toHaveLength(1);
    expect(of('allTargetsOpen')).toHaveLength(1);
    expect(of('allTargetsOpen')[0]).toMatchObject({
      endpoint: 'chat',
      fromState: 'open',
      toState: 'open',
      reason: 'all_targets_open',
      note: expect.stringContaining('backup') as unknown,
      source: { kind: 'controller', id: 'alerts-a' },
    });
    expect(of('allTargetsOpen')[0]?.counts.refusedRequests).toBeGreaterThanOrEqual(3);
  });

  it('sends halfOpen once when the sidecars probe, and closed once when the last one recovers', async () => {
    primary.setDefault({ type: 'ok' });
    backup.setDefault({ type: 'ok' });
    await new Promise((r) => setTimeout(r, 1200));
    for (const sc of sidecars) expect((await chat(sc)).status).toBe(200);
    await waitFor('halfOpen and closed at the receiver', () =>
      Promise.resolve(of('halfOpen').length > 0 && of('closed').length > 0 ? true : undefined),
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(of('halfOpen')).toHaveLength(1);
    expect(of('halfOpen')[0]).toMatchObject({ fromState: 'open', toState: 'half_open' });
    expect(of('closed')).toHaveLength(1);
    // The order the fleet went through.
    expect(good.got.filter((a) => a.upstream === 'openai').map((a) => a.event)).toEqual([
      'opened',
      'allTargetsOpen',
      'halfOpen',
      'closed',
    ]);
  });

  it('counts deliveries in the leader’s aicb_alert* metrics, the dead receiver’s as failed', async () => {
    const sent = good.got.length;
    await waitFor('every delivery to the dead receiver counted', async () =>
      (await metricValue(controller, 'aicb_alerts_total{target="webhook",result="failed"}')) ===
      sent
        ? true
        : undefined,
    );
    expect(dead.got).toHaveLength(sent);
    expect(await metricValue(controller, 'aicb_alerts_total{target="webhook",result="sent"}')).toBe(
      sent,
    );
    // The second sidecar's allTargetsOpen came as a repeat within the dedup window.
    expect(
      await metricValue(controller, 'aicb_alerts_suppressed_total{reason="duplicate"}'),
    ).toBeGreaterThan(0);
    expect(await metricValue(controller, 'aicb_alert_queue_depth{target="webhook"}')).toBe(0);
  });
});
