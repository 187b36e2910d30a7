// The targets across reloads: keyed by kind and URL, named by kind, index and fingerprint,
// and a removed target kept aside only while it has attempts in flight.
import { describe, expect, it } from 'vitest';
import type { AlertTarget, AlertTargetRef } from '../../../src/alerts/alert-target.ts';
import { fingerprintUrl } from '../../../src/alerts/alert-target.ts';
import { DeliveryStats } from '../../../src/alerts/delivery-stats.ts';
import { TargetQueue } from '../../../src/alerts/target-queue.ts';
import { checkTargetKinds, TargetSet } from '../../../src/alerts/target-set.ts';
import {
  anAlert,
  aQueueContext,
  FakeScheduler,
  flush,
  OK,
  ScriptedNotifiers,
} from './alert-test-kit.ts';

const A = 'https://hooks.example.test/a';
const B = 'https://hooks.example.test/b';

function aSet() {
  const scheduler = new FakeScheduler();
  const notifiers = new ScriptedNotifiers(scheduler.clock, () => 'hang');
  const { context } = aQueueContext(scheduler);
  const stats = new DeliveryStats();
  const set = new TargetSet();
  const opened: AlertTargetRef[] = [];
  const open = (target: AlertTarget, ref: AlertTargetRef): TargetQueue => {
    opened.push(ref);
    return new TargetQueue(ref, notifiers.create(target), stats.countersOf(ref.kind), context);
  };
  return { set, open, opened, notifiers };
}

describe('TargetSet', () => {
  it('keeps the queue of a target whose kind and URL stay, updating how it is named', () => {
    const { set, open, opened } = aSet();
    set.replace([{ kind: 'webhook', url: A }], open);
    const [first] = [...set.active()];
    set.replace(
      [
        { kind: 'webhook', url: B },
        { kind: 'webhook', url: A },
        { kind: 'slack', url: A },
      ],
      open,
    );
    const queues = [...set.active()];
    expect(queues).toHaveLength(3);
    expect(queues[1]).toBe(first);
    expect(first?.ref).toEqual({ kind: 'webhook', index: 1, fingerprint: fingerprintUrl(A) });
    // The same URL as Slack is another receiver; only the new ones were opened.
    expect(opened.map((r) => `${r.kind}[${r.index}]`)).toEqual([
      'webhook[0]',
      'webhook[0]',
      'slack[0]',
    ]);
  });

  it('reports a target whose notifier cannot be built, and keeps the others', () => {
    const { set, open } = aSet();
    const statuses = set.replace(
      [
        { kind: 'webhook', url: A },
        { kind: 'webhook', url: B },
      ],
      (target, ref) => {
        if (target.url === A) throw new Error(`cannot build ${target.url}`);
        return open(target, ref);
      },
    );
    expect(statuses.map((s) => `${s.kind}[${s.index}]:${s.problem ?? 'ok'}`)).toEqual([
      'webhook[0]:notifier_error',
      'webhook[1]:ok',
    ]);
    expect(set.size).toBe(1);
  });

  it('keeps a removed target with attempts in flight until they settle, then forgets it', async () => {
    const { set, open, notifiers } = aSet();
    set.replace(
      [
        { kind: 'webhook', url: A },
        { kind: 'webhook', url: B },
      ],
      open,
    );
    const [busy] = [...set.active()];
    busy?.push('a1', anAlert());
    busy?.pump();
    await flush();
    set.replace([], open);
    expect(set.size).toBe(0);
    // B had nothing in flight and is gone; A stays visible to stats and close.
    expect([...set.all()]).toEqual([busy]);
    expect(busy?.removed).toBe(true);
    notifiers.release(OK);
    await flush();
    if (busy !== undefined) set.settled(busy);
    expect([...set.all()]).toEqual([]);
  });

  it('checkTargetKinds refuses an unknown kind without quoting its URL', () => {
    expect(() => {
      checkTargetKinds([{ kind: 'pagerduty' as AlertTarget['kind'], url: `${A}/SECRET` }]);
    }).toThrow(
      expect.objectContaining({
        code: 'AICB_INVALID_ALERT_CONFIG',
        message: 'alerts: unknown target kind "pagerduty"',
      }),
    );
  });
});
