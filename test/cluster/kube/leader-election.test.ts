// LeaderElector on a real kube-apiserver: two candidates on one Lease. Exactly one leads; a
// released lease passes to the standby at its next attempt; a leader that stops renewing is
// replaced once its lease runs out; a leader that cannot renew steps down before anyone takes
// over. Short timings (lease 3 s, deadline 2 s, retry 0.5 s) keep the file quick.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeClients } from '../../../src/controlplane/kube/kube-client.ts';
import {
  LeaderElector,
  type LeaseApi,
  type LeaseJson,
  type StepDownReason,
} from '../../../src/controlplane/kube/leader-election.ts';
import { connect, kubeTestenv, type Cluster } from '../../support/kube-testenv/cluster.ts';
import { apiError, clientsFor, delay, until } from './kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'LeaderElector against a real kube-apiserver';

const TIMING = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 } as const;

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let ns: string;
  let electors: LeaderElector[] = [];
  let leaseCount = 0;

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    ns = await cluster.createNamespace('kube-leader');
  });

  afterEach(async () => {
    await Promise.all(electors.map((e) => e.stop()));
    electors = [];
  });

  /** Candidates `a` and `b` on a fresh Lease, with a timeline of who led when. */
  function candidates(leases: { a?: LeaseApi; b?: LeaseApi } = {}) {
    leaseCount += 1;
    const name = `aicb-controller-${leaseCount}`;
    const timeline: { at: number; identity: string; event: 'started' | StepDownReason }[] = [];
    const make = (identity: 'a' | 'b'): LeaderElector => {
      const elector = new LeaderElector({
        leases: leases[identity] ?? clients.coordination,
        namespace: ns,
        name,
        identity,
        ...TIMING,
      });
      elector.onStartedLeading(() =>
        timeline.push({ at: performance.now(), identity, event: 'started' }),
      );
      elector.onStoppedLeading((reason) =>
        timeline.push({ at: performance.now(), identity, event: reason }),
      );
      electors.push(elector);
      return elector;
    };
    const a = make('a');
    const b = make('b');
    const leaders = (): LeaderElector[] => [a, b].filter((e) => e.isLeader);
    const lease = async (): Promise<LeaseJson> =>
      clients.coordination.readNamespacedLease({ name, namespace: ns });
    return { a, b, name, timeline, leaders, lease };
  }

  it('of two candidates exactly one leads, and the Lease names it', async () => {
    const { a, b, leaders, lease, timeline } = candidates();
    a.start();
    b.start();
    await until('a leader', () => leaders().length === 1);
    // Watch for a while: never two leaders, never a change of leader.
    for (let i = 0; i < 40; i += 1) {
      expect(leaders().length).toBe(1);
      await delay(50);
    }
    const leader = leaders()[0];
    const stored = await lease();
    expect(stored.spec?.holderIdentity).toBe(leader?.identity);
    expect(stored.spec?.leaseDurationSeconds).toBe(3);
    expect(timeline.map((t) => t.event)).toEqual(['started']);
    // Renewals keep moving renewTime; the lease stays fresh.
    const renewed = new Date(String(stored.spec?.renewTime)).getTime();
    expect(Date.now() - renewed).toBeLessThan(TIMING.retryPeriodMs * 3);
  });

  it('release() hands the lease over at the standby’s next attempt', async () => {
    const { a, b, leaders, lease, timeline } = candidates();
    a.start();
    await until('a leads', () => a.isLeader);
    b.start();
    await delay(600);
    expect(b.isLeader).toBe(false);
    const before = await lease();

    const released = performance.now();
    await a.release();
    expect(a.isLeader).toBe(false);
    await until('b leads', () => b.isLeader);
    const handoverMs = performance.now() - released;
    // One retry period (plus jitter) at most, far below the 3 s lease.
    expect(handoverMs).toBeLessThan(TIMING.retryPeriodMs * 1.2 + 500);
    expect(leaders()).toEqual([b]);
    const after = await lease();
    expect(after.spec?.holderIdentity).toBe('b');
    expect(after.spec?.leaseTransitions).toBe((before.spec?.leaseTransitions ?? 0) + 1);
    expect(timeline.map((t) => `${t.identity}:${t.event}`)).toEqual([
      'a:started',
      'a:released',
      'b:started',
    ]);
  });

  it('a leader that stops renewing (crash) is replaced once its lease runs out', async () => {
    const { a, b, timeline } = candidates();
    a.start();
    await until('a leads', () => a.isLeader);
    b.start();
    await delay(200);

    const crashed = performance.now();
    await a.stop(); // no release: the lease stays held, as after a crash
    await until('b leads', () => b.isLeader, 10_000);
    const takeoverMs = performance.now() - crashed;
    // Not before the lease expired, and within lease duration + one retry period (+ slack).
    expect(takeoverMs).toBeGreaterThan(TIMING.leaseDurationMs - TIMING.retryPeriodMs * 2);
    expect(takeoverMs).toBeLessThan(TIMING.leaseDurationMs + TIMING.retryPeriodMs * 1.2 + 1_000);
    expect(timeline.map((t) => `${t.identity}:${t.event}`)).toEqual([
      'a:started',
      'a:stopped',
      'b:started',
    ]);
  });

  it('a leader that cannot renew steps down by its renew deadline, before the standby takes over', async () => {
    let failRenewals = false;
    const real: LeaseApi = clients.coordination;
    const flaky: LeaseApi = {
      readNamespacedLease: (p) =>
        failRenewals ? Promise.reject(apiError(503)) : real.readNamespacedLease(p),
      createNamespacedLease: (p) => real.createNamespacedLease(p),
      replaceNamespacedLease: (p) =>
        failRenewals ? Promise.reject(apiError(503)) : real.replaceNamespacedLease(p),
    };
    const { a, b, timeline } = candidates({ a: flaky });
    a.start();
    await until('a leads', () => a.isLeader);
    b.start();
    await delay(200);

    const cut = performance.now();
    failRenewals = true;
    await until('b leads', () => b.isLeader, 10_000);
    const stepDown = timeline.find((t) => t.identity === 'a' && t.event === 'renew-deadline');
    const takeover = timeline.find((t) => t.identity === 'b' && t.event === 'started');
    expect(stepDown).toBeDefined();
    expect(takeover).toBeDefined();
    expect((stepDown?.at ?? 0) - cut).toBeLessThan(TIMING.renewDeadlineMs + 300);
    // Never two leaders: a gave up before b started.
    expect(stepDown?.at ?? Infinity).toBeLessThan(takeover?.at ?? 0);
    expect(a.isLeader).toBe(false);
  });

  it('rejects timings that would let two leaders overlap', () => {
    expect(
      () =>
        new LeaderElector({
          leases: clients.coordination,
          namespace: ns,
          name: 'x',
          identity: 'x',
          leaseDurationMs: 2_000,
          renewDeadlineMs: 2_000,
          retryPeriodMs: 500,
        }),
    ).toThrow(/leaseDurationMs must exceed renewDeadlineMs \(2000\), got 2000/);
  });
});
