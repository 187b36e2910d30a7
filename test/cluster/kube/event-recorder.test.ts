// EventRecorder on a real kube-apiserver: Events about a policy show in `kubectl get events` and
// `kubectl describe aicp`; identical events are counted on one Event; failures are only logged.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EventRecorder,
  policySubject,
  type EventApi,
} from '../../../src/controlplane/kube/event-recorder.ts';
import type { KubeClients } from '../../../src/controlplane/kube/kube-client.ts';
import type { PolicyObject } from '../../../src/controlplane/kube/resources.ts';
import { connect, kubeTestenv, type Cluster } from '../../support/kube-testenv/cluster.ts';
import {
  apiError,
  clientsFor,
  createPolicy,
  deletePolicies,
  installCrd,
  recordingLogger,
} from './kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'EventRecorder against a real kube-apiserver';

interface EventList {
  items: {
    type: string;
    reason: string;
    message: string;
    count: number;
    involvedObject: { kind: string; name: string; uid?: string; apiVersion: string };
    source?: { component?: string; host?: string };
    reportingComponent?: string;
    reportingInstance?: string;
    firstTimestamp?: string;
    lastTimestamp?: string;
  }[];
}

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let ns: string;
  let policy: PolicyObject;

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
    ns = await cluster.createNamespace('kube-events');
    policy = await createPolicy(clients, ns, 'chat');
  });

  afterAll(async () => {
    if (env.available) await deletePolicies(cluster, [ns]);
  });

  async function eventsAbout(name: string): Promise<EventList['items']> {
    const r = await cluster.kubectl([
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      `involvedObject.name=${name}`,
      '-o',
      'json',
    ]);
    expect(r.code).toBe(0);
    return (JSON.parse(r.stdout) as EventList).items;
  }

  it('records an Event about the policy, and counts identical ones on it', async () => {
    const recorder = new EventRecorder({ api: clients.core, instance: 'aicb-controller-0' });
    const opened = {
      type: 'Warning',
      reason: 'CircuitOpened',
      message: 'circuit openai/chat opened in 3 of 4 sidecars',
    } as const;
    recorder.record(policySubject(policy), opened);
    recorder.record(policySubject(policy), opened);
    recorder.record(policySubject(policy), opened);
    recorder.record(policySubject(policy), {
      type: 'Normal',
      reason: 'CircuitClosed',
      message: 'circuit openai/chat closed',
    });
    await recorder.flush();

    const events = await eventsAbout('chat');
    expect(events).toHaveLength(2);
    const openedEvent = events.find((e) => e.reason === 'CircuitOpened');
    expect(openedEvent).toMatchObject({
      type: 'Warning',
      message: opened.message,
      count: 3,
      involvedObject: {
        apiVersion: 'aicircuit.io/v1alpha1',
        kind: 'AICircuitPolicy',
        name: 'chat',
        uid: policy.metadata.uid,
      },
      source: { component: 'aicb-controller', host: 'aicb-controller-0' },
      reportingComponent: 'aicb-controller',
      reportingInstance: 'aicb-controller-0',
    });
    expect(events.find((e) => e.reason === 'CircuitClosed')).toMatchObject({
      type: 'Normal',
      count: 1,
    });

    // What an operator sees.
    const describe = await cluster.kubectl(['describe', 'aicp', 'chat', '-n', ns]);
    expect(describe.code).toBe(0);
    expect(describe.stdout).toMatch(
      /Warning\s+CircuitOpened\s+.*\(x3 over .*\)\s+aicb-controller\s+circuit openai\/chat opened/,
    );
    expect(describe.stdout).toMatch(/Normal\s+CircuitClosed\s+/);
  });

  it('starts a new Event once the dedup window has passed', async () => {
    const other = await createPolicy(clients, ns, 'windowed');
    const recorder = new EventRecorder({
      api: clients.core,
      instance: 'aicb-controller-0',
      dedupWindowMs: 0,
    });
    const rejected = {
      type: 'Warning',
      reason: 'PolicyRejected',
      message: 'bad fallback',
    } as const;
    recorder.record(policySubject(other), rejected);
    recorder.record(policySubject(other), rejected);
    await recorder.flush();
    const events = await eventsAbout('windowed');
    expect(events.map((e) => e.count)).toEqual([1, 1]);
  });

  it('drops events while its gate is closed and only logs failures', async () => {
    const gated = new EventRecorder({ api: clients.core, instance: 'x', gate: () => false });
    gated.record(policySubject(policy), { type: 'Normal', reason: 'Ignored', message: 'standby' });
    await gated.flush();
    expect((await eventsAbout('chat')).some((e) => e.reason === 'Ignored')).toBe(false);

    const logger = recordingLogger();
    const broken: EventApi = {
      createNamespacedEvent: () => Promise.reject(apiError(500)),
      patchNamespacedEvent: () => Promise.reject(apiError(500)),
    };
    const failing = new EventRecorder({ api: broken, instance: 'x', logger });
    expect(() => {
      failing.record(policySubject(policy), { type: 'Normal', reason: 'Lost', message: 'lost' });
    }).not.toThrow();
    await failing.flush();
    expect(logger.lines).toEqual([
      expect.objectContaining({ level: 'warn', message: 'could not record event' }),
    ]);
  });
});
