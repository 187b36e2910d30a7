// What `kubectl get aicp` and `kubectl get events` tell a platform engineer about a policy that
// is not in force, against a real kube-apiserver: ACCEPTED and READY columns for a policy whose
// Secret is missing (selecting no sidecar) and for one shadowed by an older policy, with the
// Warning Events that say why.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Controller } from '../../src/controlplane/build-controller.ts';
import type { KubeClients } from '../../src/controlplane/kube/kube-client.ts';
import { connect, kubeTestenv, type Cluster } from '../support/kube-testenv/cluster.ts';
import {
  applyPolicy,
  createInjectedPod,
  createSidecarAccount,
  eventsWithReason,
  policyStatus,
  startLeadingController,
  waitFor,
} from './controller-harness.ts';
import { clientsFor, deletePolicies, installCrd } from './kube/kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'policy status columns and Warning Events on a real kube-apiserver';

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let ns: string;
  let dir: string;
  let controller: Controller;
  const upstream = { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' };

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
    ns = await cluster.createNamespace('status');
    const leaseNs = await cluster.createNamespace('status-system');
    dir = mkdtempSync(join(tmpdir(), 'aicb-status-'));
    await createSidecarAccount(clients, ns);
    await createInjectedPod(clients, ns, 'chat-1', { app: 'chat' });
    ({ controller } = await startLeadingController(clients, leaseNs, 'status-controller'));
  }, 60_000);

  afterAll(async () => {
    if (!env.available) return;
    await controller.stop();
    await deletePolicies(cluster, [ns]);
    rmSync(dir, { recursive: true, force: true });
  });

  async function row(name: string): Promise<string[]> {
    const table = await cluster.kubectl(['get', 'aicp', name, '-n', ns, '-o', 'wide']);
    if (table.code !== 0) throw new Error(table.output);
    const [header = '', line = ''] = table.stdout.trim().split('\n');
    expect(header.split(/\s+/)).toEqual([
      'NAME',
      'UPSTREAMS',
      'OPEN',
      'ACCEPTED',
      'READY',
      'REASON',
      'AGE',
    ]);
    return line.split(/\s+/);
  }

  it('shows a policy with a missing Secret as not Accepted and not Ready, naming its upstreams, with a Warning Event', async () => {
    await applyPolicy(cluster, ns, 'no-secret', {
      podSelector: { matchLabels: { app: 'nobody' } },
      upstreams: [
        upstream,
        {
          name: 'backup',
          provider: 'openai-compatible',
          baseURL: 'https://backup.example',
          apiKey: { secretKeyRef: { name: 'absent', key: 'api-key' } },
        },
      ],
    });
    await waitFor('Accepted=False', async () =>
      (await policyStatus(clients, ns, 'no-secret')).conditions?.some(
        (c) => c.type === 'Accepted' && c.status === 'False',
      )
        ? true
        : undefined,
    );
    expect((await row('no-secret')).slice(0, 6)).toEqual([
      'no-secret',
      'openai,backup',
      '0',
      'False',
      'False',
      'NotAccepted',
    ]);
    const events = await waitFor('a PolicyRejected Event', async () => {
      const found = await eventsWithReason(cluster, ns, 'PolicyRejected');
      return found.some((e) => e.involvedObject.name === 'no-secret') ? found : undefined;
    });
    expect(events).toEqual([
      expect.objectContaining({
        type: 'Warning',
        message: 'SecretNotFound: Secret keys not found in namespace ' + ns + ': absent/api-key',
      }),
    ]);
  });

  it('shows a newer policy shadowed by an older one as Accepted but not Ready, with a Warning Event', async () => {
    await applyPolicy(cluster, ns, 'older', { upstreams: [upstream] });
    // Creation timestamps have one-second resolution; the newer one must be visibly newer.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await applyPolicy(cluster, ns, 'newer', {
      podSelector: { matchLabels: { app: 'chat' } },
      upstreams: [upstream],
    });
    const ready = await waitFor('newer to report Shadowed', async () => {
      const c = (await policyStatus(clients, ns, 'newer')).conditions?.find(
        (x) => x.type === 'Ready',
      );
      return c?.reason === 'Shadowed' ? c : undefined;
    });
    expect(ready).toMatchObject({
      status: 'False',
      message:
        '1 of the 1 pods it selects are governed by the older policy older (the oldest policy that selects a pod governs it).',
    });
    expect((await row('newer')).slice(0, 6)).toEqual([
      'newer',
      'openai',
      '0',
      'True',
      'False',
      'Shadowed',
    ]);
    expect((await policyStatus(clients, ns, 'newer')).overlappingPolicies).toEqual(['older']);
    const events = await waitFor('a PolicyShadowed Event', async () => {
      const found = await eventsWithReason(cluster, ns, 'PolicyShadowed');
      return found.length > 0 ? found : undefined;
    });
    expect(events.map((e) => [e.type, e.involvedObject.name])).toEqual([['Warning', 'newer']]);
    // The older policy governs the pod; it is not shadowed (no sidecar acknowledged yet).
    const older = (await policyStatus(clients, ns, 'older')).conditions?.find(
      (c) => c.type === 'Ready',
    );
    expect(older?.reason).toBe('Propagating');
  });
});
