// StatusWriter on a real kube-apiserver: status goes through the status subresource by
// server-side apply (field manager aicb-controller); identical writes cost no request and leave
// resourceVersion alone; lastTransitionTime moves only when a condition's status does; bursts
// are merged; a field no longer sent disappears; transient failures are retried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClients } from '../../../src/controlplane/kube/kube-client.ts';
import {
  StatusWriter,
  buildCondition,
  type StatusPatchApi,
  type StatusWriterOptions,
} from '../../../src/controlplane/kube/status-writer.ts';
import type { PolicyStatus } from '../../../src/policy/policy-status-schema.ts';
import { connect, kubeTestenv, type Cluster } from '../../support/kube-testenv/cluster.ts';
import {
  apiError,
  clientsFor,
  createPolicy,
  deletePolicies,
  getPolicy,
  installCrd,
} from './kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'StatusWriter against a real kube-apiserver';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function status(
  ready: 'True' | 'False',
  message: string,
  nowMs: number,
  extra: Partial<PolicyStatus> = {},
): PolicyStatus {
  return {
    observedGeneration: 1,
    upstreams: 'openai',
    openCircuits: 0,
    conditions: [
      buildCondition(
        { type: 'Accepted', status: 'True', reason: 'Valid', message: 'ok', observedGeneration: 1 },
        nowMs,
      ),
      buildCondition(
        { type: 'Ready', status: ready, reason: 'Sidecars', message, observedGeneration: 1 },
        nowMs,
      ),
    ],
    ...extra,
  };
}

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let ns: string;

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
    ns = await cluster.createNamespace('kube-status');
  });

  afterAll(async () => {
    if (env.available) await deletePolicies(cluster, [ns]);
  });

  /** A writer on the real API, counting PATCH requests; no debounce unless asked. */
  function writer(options: Partial<StatusWriterOptions> = {}, api?: StatusPatchApi) {
    const real: StatusPatchApi = clients.customObjects;
    const counted = {
      calls: 0,
      patchNamespacedCustomObjectStatus: (
        ...args: Parameters<StatusPatchApi['patchNamespacedCustomObjectStatus']>
      ) => {
        counted.calls += 1;
        return (api ?? real).patchNamespacedCustomObjectStatus(...args);
      },
    };
    return { counted, writer: new StatusWriter({ api: counted, debounceMs: 0, ...options }) };
  }

  it('writes status by server-side apply through the status subresource', async () => {
    const policy = await createPolicy(clients, ns, 'chat');
    const { writer: w } = writer();
    const written = status('True', 'all 3 sidecars current', T0);
    expect(await w.write({ namespace: ns, name: 'chat' }, written)).toBe('written');

    const stored = await getPolicy(clients, ns, 'chat');
    expect(stored.status).toEqual(written);
    expect(stored.metadata.generation).toBe(policy.metadata.generation);
    expect(stored.metadata.managedFields).toContainEqual(
      expect.objectContaining({ manager: 'aicb-controller', subresource: 'status' }),
    );
    const get = await cluster.kubectl(['get', 'aicp', 'chat', '-n', ns, '--no-headers']);
    expect(get.stdout.split(/\s+/).slice(0, 4)).toEqual(['chat', 'openai', '0', 'True']);
  });

  it('skips a write equal to the last one: no request, resourceVersion unchanged', async () => {
    await createPolicy(clients, ns, 'steady');
    const ref = { namespace: ns, name: 'steady' };
    const { writer: w, counted } = writer();
    expect(await w.write(ref, status('True', 'current', T0))).toBe('written');
    const before = await getPolicy(clients, ns, 'steady');

    // Recomputed a minute later: same content, fresh timestamps. Nothing to write.
    expect(await w.write(ref, status('True', 'current', T0 + 60_000))).toBe('unchanged');
    expect(counted.calls).toBe(1);
    expect(w.stats).toMatchObject({ requests: 1, written: 1, unchanged: 1 });
    const after = await getPolicy(clients, ns, 'steady');
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('moves lastTransitionTime only when a condition’s status changes', async () => {
    await createPolicy(clients, ns, 'flip');
    const ref = { namespace: ns, name: 'flip' };
    const { writer: w } = writer();
    await w.write(ref, status('False', '0 of 2 current', T0));
    // A new message with the same status is not a transition.
    expect(await w.write(ref, status('False', '1 of 2 current', T0 + 10_000))).toBe('written');
    let stored = await getPolicy(clients, ns, 'flip');
    const ready = () => stored.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready()).toMatchObject({
      message: '1 of 2 current',
      lastTransitionTime: '2026-01-01T12:00:00Z',
    });

    expect(await w.write(ref, status('True', '2 of 2 current', T0 + 20_000))).toBe('written');
    stored = await getPolicy(clients, ns, 'flip');
    expect(ready()).toMatchObject({ status: 'True', lastTransitionTime: '2026-01-01T12:00:20Z' });
    // Accepted never changed status: still its first time.
    expect(stored.status?.conditions?.find((c) => c.type === 'Accepted')?.lastTransitionTime).toBe(
      '2026-01-01T12:00:00Z',
    );
  });

  it('merges a burst of writes within the debounce window into one request with the last status', async () => {
    await createPolicy(clients, ns, 'burst');
    const ref = { namespace: ns, name: 'burst' };
    const { writer: w, counted } = writer({ debounceMs: 200 });
    const outcomes = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => w.write(ref, status('True', `update ${n}`, T0))),
    );
    expect(outcomes).toEqual(['written', 'written', 'written', 'written', 'written']);
    expect(counted.calls).toBe(1);
    const stored = await getPolicy(clients, ns, 'burst');
    expect(stored.status?.conditions?.find((c) => c.type === 'Ready')?.message).toBe('update 5');
  });

  it('removes a field it no longer sends (apply owns the whole status it wrote)', async () => {
    await createPolicy(clients, ns, 'overlap');
    const ref = { namespace: ns, name: 'overlap' };
    const { writer: w } = writer();
    await w.write(ref, status('True', 'ok', T0, { overlappingPolicies: ['other'] }));
    expect((await getPolicy(clients, ns, 'overlap')).status?.overlappingPolicies).toEqual([
      'other',
    ]);
    await w.write(ref, status('True', 'ok', T0));
    const stored = await getPolicy(clients, ns, 'overlap');
    expect(stored.status).not.toHaveProperty('overlappingPolicies');
    expect(stored.status?.upstreams).toBe('openai');
  });

  it('a new leader with nothing written yet compares against the object’s current status', async () => {
    await createPolicy(clients, ns, 'failover');
    const ref = { namespace: ns, name: 'failover' };
    await writer().writer.write(ref, status('True', 'ok', T0));
    const current = (await getPolicy(clients, ns, 'failover')).status;

    const { writer: successor, counted } = writer();
    expect(await successor.write(ref, status('True', 'ok', T0 + 90_000), current)).toBe(
      'unchanged',
    );
    expect(counted.calls).toBe(0);
  });

  it('retries a 503 and a 409, and reports a deleted policy as gone', async () => {
    await createPolicy(clients, ns, 'retry');
    const real: StatusPatchApi = clients.customObjects;
    const failures = [apiError(503), apiError(409)];
    const flaky: StatusPatchApi = {
      patchNamespacedCustomObjectStatus: (...args) => {
        const failure = failures.shift();
        return failure === undefined
          ? real.patchNamespacedCustomObjectStatus(...args)
          : Promise.reject(failure);
      },
    };
    const { writer: w, counted } = writer({ backoff: { initialMs: 20, maxMs: 100 } }, flaky);
    const ref = { namespace: ns, name: 'retry' };
    expect(await w.write(ref, status('True', 'ok', T0))).toBe('written');
    expect(counted.calls).toBe(3);
    expect((await getPolicy(clients, ns, 'retry')).status?.upstreams).toBe('openai');

    const gone = { namespace: ns, name: 'never-created' };
    expect(await w.write(gone, status('True', 'ok', T0))).toBe('gone');
  });

  it('writes nothing while its gate is closed (not the leader)', async () => {
    await createPolicy(clients, ns, 'follower');
    const { writer: w, counted } = writer({ gate: () => false });
    expect(await w.write({ namespace: ns, name: 'follower' }, status('True', 'ok', T0))).toBe(
      'disabled',
    );
    expect(counted.calls).toBe(0);
    expect((await getPolicy(clients, ns, 'follower')).status).toBeUndefined();
  });
});
