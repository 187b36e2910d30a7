// One target's queue on its own: what a reload's retire and the close deadline's abandon do
// to waiting and in-flight deliveries, and that an overflow cancels the retry it drops.
import { describe, expect, it } from 'vitest';
import { DeliveryStats } from '../../../src/alerts/delivery-stats.ts';
import { TargetQueue, type QueueSettings } from '../../../src/alerts/target-queue.ts';
import {
  anAlert,
  aQueueContext,
  FakeScheduler,
  flush,
  OK,
  ScriptedNotifiers,
  UNAVAILABLE,
  type Behaviour,
} from './alert-test-kit.ts';

const URL_A = 'https://hooks.example.test/a';
const REF = { kind: 'webhook', index: 0, fingerprint: 'f' } as const;

function aQueue(
  script: (url: string, call: number) => Behaviour,
  settings: Partial<QueueSettings> = {},
) {
  const scheduler = new FakeScheduler();
  const notifiers = new ScriptedNotifiers(scheduler.clock, script);
  const stats = new DeliveryStats();
  const counters = stats.countersOf('webhook');
  const { context, results, settled } = aQueueContext(scheduler, settings);
  const queue = new TargetQueue(
    REF,
    notifiers.create({ kind: 'webhook', url: URL_A }),
    counters,
    context,
  );
  return { queue, scheduler, notifiers, counters, results, settled };
}

function dropped(
  results: readonly { outcome: string; dropReason?: string; alert: { upstream: string } }[],
): string[] {
  return results
    .filter((r) => r.outcome === 'dropped')
    .map((r) => `${r.alert.upstream}:${r.dropReason ?? ''}`);
}

describe('TargetQueue', () => {
  it('starts nothing on push; pump starts up to maxConcurrent in queue order', async () => {
    const { queue, notifiers } = aQueue(() => 'hang', { maxConcurrent: 2 });
    for (const upstream of ['u1', 'u2', 'u3']) queue.push(upstream, anAlert({ upstream }));
    expect(notifiers.calls).toHaveLength(0);
    expect(queue.queued).toBe(3);
    queue.pump();
    await flush();
    expect(notifiers.calls.map((c) => c.delivery.alert.upstream)).toEqual(['u1', 'u2']);
    expect({ queued: queue.queued, inFlight: queue.inFlight }).toEqual({ queued: 1, inFlight: 2 });
  });

  it('starts the next delivery before telling the dispatcher an attempt settled', async () => {
    const { queue, notifiers, settled } = aQueue((_url, call) => (call === 1 ? OK : 'hang'));
    queue.push('a1', anAlert({ upstream: 'u1' }));
    queue.push('a2', anAlert({ upstream: 'u2' }));
    queue.pump();
    await flush();
    // When the dispatcher hears u1 settled, u2 already holds the slot.
    expect(settled).toEqual([{ queue, inFlight: 1 }]);
    expect(notifiers.calls.map((c) => c.delivery.alert.upstream)).toEqual(['u1', 'u2']);
    expect(queue.inFlight).toBe(1);
  });

  it('cancels the retry timer of a waiting delivery dropped by overflow', async () => {
    const { queue, scheduler, notifiers, results, counters } = aQueue(() => UNAVAILABLE, {
      maxQueue: 1,
    });
    queue.push('a1', anAlert({ upstream: 'u1' }));
    queue.pump();
    await flush();
    expect(scheduler.pending).toBe(1);
    queue.push('a2', anAlert({ upstream: 'u2' }));
    expect(scheduler.pending).toBe(0);
    expect(dropped(results)).toEqual(['u1:queue_full']);
    expect(counters).toMatchObject({ retried: 1, dropped: 1 });
    await scheduler.advance(60_000);
    // u1 never comes back: only its first attempt was made.
    expect(notifiers.calls.filter((c) => c.delivery.alert.upstream === 'u1')).toHaveLength(1);
  });

  it('retire drops what waits, cancels retries and never retries the attempt in flight', async () => {
    const { queue, scheduler, notifiers, results, counters } = aQueue(
      (_url, call) => (call === 1 ? UNAVAILABLE : 'hang'),
      { maxConcurrent: 1 },
    );
    queue.push('a1', anAlert({ upstream: 'u1' }));
    queue.pump();
    await flush();
    queue.push('a2', anAlert({ upstream: 'u2' }));
    queue.push('a3', anAlert({ upstream: 'u3' }));
    queue.pump();
    await flush();
    // u1 waits for its retry, u2 is in flight (hung), u3 is queued.
    expect({ queued: queue.queued, inFlight: queue.inFlight }).toEqual({ queued: 2, inFlight: 1 });

    expect(scheduler.pending).toBe(2);
    queue.retire();
    expect(queue.removed).toBe(true);
    // u1's retry timer is cancelled; only u2's request timeout is left.
    expect(scheduler.pending).toBe(1);
    expect(dropped(results)).toEqual(['u3:target_removed', 'u1:target_removed']);
    expect(queue.queued).toBe(0);
    expect(queue.inFlight).toBe(1);

    notifiers.release(UNAVAILABLE);
    await flush();
    queue.pump();
    await scheduler.advance(60_000);
    expect(dropped(results)).toEqual([
      'u3:target_removed',
      'u1:target_removed',
      'u2:target_removed',
    ]);
    expect(notifiers.calls.map((c) => c.delivery.alert.upstream)).toEqual(['u1', 'u2']);
    expect(counters).toMatchObject({ retried: 1, dropped: 3, failed: 0 });
    expect(scheduler.pending).toBe(0);
  });

  it('abandon gives up waiting and in-flight deliveries as closed, aborting the requests', async () => {
    const { queue, scheduler, notifiers, results, counters } = aQueue(() => 'hang', {
      maxConcurrent: 1,
    });
    queue.push('a1', anAlert({ upstream: 'u1' }));
    queue.push('a2', anAlert({ upstream: 'u2' }));
    queue.pump();
    await flush();
    expect(queue.abandon()).toBe(2);
    expect(notifiers.calls[0]?.signal.aborted).toBe(true);
    expect(dropped(results)).toEqual(['u2:closed', 'u1:closed']);
    expect(counters).toMatchObject({ dropped: 2, failed: 0, retried: 0, sent: 0 });
    expect({ queued: queue.queued, inFlight: queue.inFlight }).toEqual({ queued: 0, inFlight: 0 });
    expect(scheduler.pending).toBe(0);
  });
});
