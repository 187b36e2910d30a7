// WatchedCollection on a real kube-apiserver: it follows Secrets, AICircuitPolicies and labelled
// Pods, and keeps following them through a dropped watch, a 410 Gone, a watch that misses an
// event, and a watch that goes silent.
import { V1Pod, V1Secret } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClients } from '../../../src/controlplane/kube/kube-client.ts';
import {
  podCollectionPath,
  policyCollectionPath,
  secretCollectionPath,
  type KubeObject,
  type PodObject,
  type PolicyObject,
  type SecretObject,
} from '../../../src/controlplane/kube/resources.ts';
import {
  WatchedCollection,
  type CollectionEvent,
  type CollectionTransport,
  type WatchHandle,
  type WatchedCollectionOptions,
} from '../../../src/controlplane/kube/watched-collection.ts';
import { API_GROUP, API_VERSION } from '../../../src/policy/policy-schema.ts';
import { CRD_PLURAL } from '../../../src/policy/crd-manifest.ts';
import { connect, kubeTestenv, type Cluster } from '../../support/kube-testenv/cluster.ts';
import {
  clientsFor,
  createPolicy,
  delay,
  deletePolicies,
  installCrd,
  recordingLogger,
  until,
} from './kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'WatchedCollection against a real kube-apiserver';

/** Quick backoff so restarts are visible within a test; everything else at its default. */
const FAST = { backoff: { initialMs: 50, maxMs: 500 } } as const;

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  const running: WatchedCollection<KubeObject>[] = [];
  const policyNamespaces: string[] = [];

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
  });

  afterAll(async () => {
    if (env.available) await deletePolicies(cluster, policyNamespaces);
  });

  /** Starts a collection and records its events as `type:namespace/name`. */
  function follow<T extends KubeObject>(
    options: Omit<WatchedCollectionOptions<T>, 'transport'> & { transport?: CollectionTransport },
  ): { collection: WatchedCollection<T>; log: string[]; events: CollectionEvent<T>[] } {
    const collection = new WatchedCollection<T>({ transport: clients.transport, ...options });
    const log: string[] = [];
    const events: CollectionEvent<T>[] = [];
    collection.onChange((event) => {
      events.push(event);
      log.push(
        `${event.type}:${event.object.metadata.namespace ?? ''}/${event.object.metadata.name}`,
      );
    });
    collection.start();
    running.push(collection as unknown as WatchedCollection<KubeObject>);
    return { collection, log, events };
  }

  async function createSecret(namespace: string, name: string, value: string): Promise<void> {
    await clients.core.createNamespacedSecret({
      namespace,
      body: Object.assign(new V1Secret(), { metadata: { name }, stringData: { key: value } }),
    });
  }

  async function updateSecret(namespace: string, name: string, value: string): Promise<void> {
    const current = await clients.core.readNamespacedSecret({ name, namespace });
    current.data = { key: Buffer.from(value).toString('base64') };
    await clients.core.replaceNamespacedSecret({ name, namespace, body: current });
  }

  it('lists the Secrets already there, then sees each add, modify and delete once, in order', async () => {
    const ns = await cluster.createNamespace('kube-secrets');
    await createSecret(ns, 'before', 'one');
    const { collection, log } = follow<SecretObject>({
      name: 'secrets',
      path: secretCollectionPath(ns),
    });
    await collection.synced;
    expect(log).toEqual([`added:${ns}/before`]);
    expect(collection.get(ns, 'before')?.data?.key).toBe(Buffer.from('one').toString('base64'));

    await createSecret(ns, 'later', 'two');
    await updateSecret(ns, 'before', 'three');
    await clients.core.deleteNamespacedSecret({ name: 'later', namespace: ns });
    await until('the delete', () => log.length === 4);

    expect(log).toEqual([
      `added:${ns}/before`,
      `added:${ns}/later`,
      `modified:${ns}/before`,
      `deleted:${ns}/later`,
    ]);
    expect(collection.list().map((s) => s.metadata.name)).toEqual(['before']);
    expect(collection.get(ns, 'before')?.data?.key).toBe(Buffer.from('three').toString('base64'));
    // Plain JSON, the same shape from the list and from the watch (no client-node classes).
    expect(typeof collection.get(ns, 'before')?.metadata.creationTimestamp).toBe('string');
    const health = collection.health();
    expect(health).toMatchObject({
      synced: true,
      watching: true,
      lists: 1,
      watches: 1,
      restarts: 0,
      size: 1,
    });
    expect(health.consecutiveFailures).toBe(0);
  });

  it('follows AICircuitPolicies across all namespaces', async () => {
    const nsA = await cluster.createNamespace('kube-policies-a');
    const nsB = await cluster.createNamespace('kube-policies-b');
    policyNamespaces.push(nsA, nsB);
    await createPolicy(clients, nsA, 'first');
    const { collection, log } = follow<PolicyObject>({
      name: 'aicircuitpolicies',
      path: policyCollectionPath(),
    });
    await collection.synced;
    expect(collection.get(nsA, 'first')?.spec).toMatchObject({ upstreams: [{ name: 'openai' }] });

    await createPolicy(clients, nsB, 'second');
    await clients.customObjects.patchNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      plural: CRD_PLURAL,
      namespace: nsA,
      name: 'first',
      body: [{ op: 'add', path: '/metadata/labels', value: { tier: 'gold' } }],
    });
    await clients.customObjects.deleteNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      plural: CRD_PLURAL,
      namespace: nsB,
      name: 'second',
    });
    // Other test files leave policies behind in their namespaces; look at ours only.
    const ours = (): string[] => log.filter((l) => l.includes(nsA) || l.includes(nsB));
    await until('the policy delete', () => ours().length === 4);
    expect(ours()).toEqual([
      `added:${nsA}/first`,
      `added:${nsB}/second`,
      `modified:${nsA}/first`,
      `deleted:${nsB}/second`,
    ]);
    expect(collection.get(nsA, 'first')?.metadata.labels).toEqual({ tier: 'gold' });
    expect(collection.get(nsB, 'second')).toBeUndefined();
  });

  it('holds only the Pods its label selector matches', async () => {
    const ns = await cluster.createNamespace('kube-pods');
    const pod = (name: string, labels: Record<string, string>): V1Pod =>
      Object.assign(new V1Pod(), {
        metadata: { name, labels },
        spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] },
      });
    await clients.core.createNamespacedPod({
      namespace: ns,
      body: pod('injected', { 'aicircuit.io/inject': 'true' }),
    });
    await clients.core.createNamespacedPod({ namespace: ns, body: pod('plain', {}) });
    const { collection, log } = follow<PodObject>({
      name: 'pods',
      path: podCollectionPath(ns),
      labelSelector: 'aicircuit.io/inject=true',
    });
    await collection.synced;
    await clients.core.createNamespacedPod({
      namespace: ns,
      body: pod('late', { 'aicircuit.io/inject': 'true' }),
    });
    await clients.core.createNamespacedPod({ namespace: ns, body: pod('late-plain', {}) });
    await until('the late pod', () => log.length === 2);
    await delay(300);
    expect(log).toEqual([`added:${ns}/injected`, `added:${ns}/late`]);
    expect(
      collection
        .list()
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['injected', 'late']);
  });

  it('restarts a dropped watch from its resourceVersion: nothing lost, nothing repeated, no relist', async () => {
    const ns = await cluster.createNamespace('kube-drop');
    const watches = recordWatches(clients.transport);
    const logger = recordingLogger();
    const { collection, log } = follow<SecretObject>({
      name: 'secrets',
      path: secretCollectionPath(ns),
      transport: watches.transport,
      logger,
      ...FAST,
    });
    await collection.synced;
    await until('the watch to connect', () => collection.health().watching);

    // The connection dies under the collection (as a reset socket would).
    watches.handles.at(-1)?.abort();
    // Changes while no watch runs: the next watch must replay them from the resourceVersion.
    await createSecret(ns, 'during-1', 'a');
    await createSecret(ns, 'during-2', 'b');
    await updateSecret(ns, 'during-1', 'c');
    await clients.core.deleteNamespacedSecret({ name: 'during-2', namespace: ns });

    await until('the replayed events', () => log.length === 4);
    await delay(300);
    expect(log).toEqual([
      `added:${ns}/during-1`,
      `added:${ns}/during-2`,
      `modified:${ns}/during-1`,
      `deleted:${ns}/during-2`,
    ]);
    const health = collection.health();
    expect(health.restarts).toBeGreaterThanOrEqual(1);
    expect(health.lists).toBe(1);
    expect(watches.queries.length).toBeGreaterThanOrEqual(2);
    // The second watch resumed where the first stopped, instead of from scratch.
    expect(watches.queries[1]?.resourceVersion).not.toBe('');
    expect(watches.queries[1]).toMatchObject({ allowWatchBookmarks: true });
    expect(logger.lines.some((l) => l.message === 'watch failed')).toBe(true);
  });

  it('relists on 410 Gone and reports only real differences', async () => {
    const ns = await cluster.createNamespace('kube-gone');
    await createSecret(ns, 'stable', 'x');
    const watches = recordWatches(clients.transport);
    const { collection, log } = follow<SecretObject>({
      name: 'secrets',
      path: secretCollectionPath(ns),
      transport: watches.transport,
      ...FAST,
    });
    await collection.synced;
    await until('the watch to connect', () => collection.health().watching);

    // The server says the resourceVersion was compacted away, as etcd compaction causes.
    watches.inject('ERROR', {
      kind: 'Status',
      apiVersion: 'v1',
      status: 'Failure',
      reason: 'Expired',
      code: 410,
      message: 'too old resource version',
    });
    await until('the relist', () => collection.health().lists === 2);
    await createSecret(ns, 'after', 'y');
    await until('the new secret', () => log.length === 2);
    await delay(200);
    // `stable` was unchanged in the relist: no spurious modified event for it.
    expect(log).toEqual([`added:${ns}/stable`, `added:${ns}/after`]);
  });

  it('a periodic relist repairs a cache whose watch missed a deletion', async () => {
    const ns = await cluster.createNamespace('kube-relist');
    await createSecret(ns, 'doomed', 'x');
    const watches = recordWatches(clients.transport, { drop: (type) => type === 'DELETED' });
    const { collection, log } = follow<SecretObject>({
      name: 'secrets',
      path: secretCollectionPath(ns),
      transport: watches.transport,
      relistIntervalMs: 1_000,
      ...FAST,
    });
    await collection.synced;
    await until('the watch to connect', () => collection.health().watching);
    await clients.core.deleteNamespacedSecret({ name: 'doomed', namespace: ns });

    const tookMs = await until('the relist to notice', () => log.length === 2, 5_000);
    expect(log).toEqual([`added:${ns}/doomed`, `deleted:${ns}/doomed`]);
    expect(collection.get(ns, 'doomed')).toBeUndefined();
    expect(collection.health().lists).toBeGreaterThanOrEqual(2);
    expect(tookMs).toBeLessThan(2_500);
  });

  it('the watchdog restarts a watch that went silent and catches up by relisting', async () => {
    const ns = await cluster.createNamespace('kube-silent');
    const watches = recordWatches(clients.transport);
    const logger = recordingLogger();
    const { collection, log } = follow<SecretObject>({
      name: 'secrets',
      path: secretCollectionPath(ns),
      transport: watches.transport,
      watchdogSilenceMs: 600,
      logger,
      ...FAST,
    });
    await collection.synced;
    await until('the watch to connect', () => collection.health().watching);

    // A dead stream that never errors: the current watch delivers nothing from now on.
    watches.muteCurrent();
    await createSecret(ns, 'unheard', 'x');
    await until('the watchdog', () => log.length === 1, 5_000);
    expect(log).toEqual([`added:${ns}/unheard`]);
    expect(logger.lines.some((l) => l.message === 'watch silent for too long; restarting it')).toBe(
      true,
    );
    expect(collection.health().restarts).toBeGreaterThanOrEqual(1);
    expect(collection.health().lists).toBeGreaterThanOrEqual(2);
  });

  it('stop() ends the watch: later changes are not reported, and synced rejects if never synced', async () => {
    const ns = await cluster.createNamespace('kube-stop');
    const { collection, log } = follow<SecretObject>({
      name: 'secrets',
      path: secretCollectionPath(ns),
    });
    await collection.synced;
    const stopStarted = performance.now();
    await collection.stop();
    expect(performance.now() - stopStarted).toBeLessThan(1_000);
    await createSecret(ns, 'ignored', 'x');
    await delay(300);
    expect(log).toEqual([]);
    expect(collection.health().watching).toBe(false);
    expect(() => {
      collection.start();
    }).toThrow(/stopped/);

    const never = new WatchedCollection<SecretObject>({
      name: 'secrets',
      path: secretCollectionPath(ns),
      transport: clients.transport,
    });
    await never.stop();
    await expect(never.synced).rejects.toThrow(/stopped before the first list/);
  });

  it('keeps retrying a failing list with backoff and syncs once the resource exists', async () => {
    const ns = await cluster.createNamespace('kube-late');
    let failuresLeft = 3;
    const flaky: CollectionTransport = {
      list: (path, query, signal) => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          return Promise.reject(Object.assign(new Error('boom'), { statusCode: 503 }));
        }
        return clients.transport.list(path, query, signal);
      },
      watch: clients.transport.watch,
    };
    const logger = recordingLogger();
    const { collection } = follow<SecretObject>({
      name: 'secrets',
      path: secretCollectionPath(ns),
      transport: flaky,
      logger,
      ...FAST,
    });
    await collection.synced;
    expect(failuresLeft).toBe(0);
    expect(logger.lines.filter((l) => l.message === 'list failed')).toHaveLength(3);
    expect(collection.health().consecutiveFailures).toBe(0);
  });
});

/**
 * Wraps a transport to see and steer its watches: the handles (to drop a connection), the
 * queries, events injected as if the server sent them, events dropped, a watch muted.
 */
function recordWatches(
  inner: CollectionTransport,
  options: { drop?: (type: string) => boolean } = {},
): {
  transport: CollectionTransport;
  handles: WatchHandle[];
  queries: Record<string, string | number | boolean | undefined>[];
  inject: (type: string, object: unknown) => void;
  muteCurrent: () => void;
} {
  const handles: WatchHandle[] = [];
  const queries: Record<string, string | number | boolean | undefined>[] = [];
  let current: { onEvent: (type: string, object: unknown) => void; muted: boolean } | undefined;
  return {
    handles,
    queries,
    inject: (type, object) => {
      current?.onEvent(type, object);
    },
    muteCurrent: () => {
      if (current !== undefined) current.muted = true;
    },
    transport: {
      list: inner.list,
      watch: async (path, query, onEvent, onDone) => {
        queries.push({ ...query });
        const state = { onEvent, muted: false };
        current = state;
        const handle = await inner.watch(
          path,
          query,
          (type, object) => {
            if (state.muted || options.drop?.(type) === true) return;
            onEvent(type, object);
          },
          onDone,
        );
        handles.push(handle);
        return handle;
      },
    },
  };
}
