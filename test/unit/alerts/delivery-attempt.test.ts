// One attempt settles exactly once: with the notifier's answer, at our own timeout, or when
// aborted; a notifier that throws or rejects is a retryable network failure.
import { describe, expect, it } from 'vitest';
import type { AlertNotifier, DeliveryOutcome } from '../../../src/alerts/alert-notifier.ts';
import { DeliveryAttempt } from '../../../src/alerts/delivery-attempt.ts';
import { anAlert, FakeScheduler, NOT_FOUND, OK } from './alert-test-kit.ts';

const DELIVERY = { alert: anAlert(), id: 'alert-1', attempt: 1 };

interface Run {
  readonly attempt: DeliveryAttempt;
  readonly scheduler: FakeScheduler;
  readonly settled: { outcome: DeliveryOutcome; timedOut: boolean }[];
  signal(): AbortSignal | undefined;
  answer(outcome: DeliveryOutcome): void;
}

function run(send: 'manual' | (() => Promise<DeliveryOutcome>), timeoutMs = 5000): Run {
  const scheduler = new FakeScheduler();
  const settled: { outcome: DeliveryOutcome; timedOut: boolean }[] = [];
  let signal: AbortSignal | undefined;
  let answer: (outcome: DeliveryOutcome) => void = () => undefined;
  const notifier: AlertNotifier = {
    kind: 'webhook',
    send: (_delivery, s) => {
      signal = s;
      if (send !== 'manual') return send();
      return new Promise((resolve) => {
        answer = resolve;
      });
    },
  };
  const attempt = new DeliveryAttempt((outcome, timedOut) => settled.push({ outcome, timedOut }));
  attempt.start(notifier, DELIVERY, scheduler, timeoutMs);
  return {
    attempt,
    scheduler,
    settled,
    signal: () => signal,
    answer: (o) => {
      answer(o);
    },
  };
}

describe('DeliveryAttempt', () => {
  it("settles with the notifier's outcome and cancels its timeout", async () => {
    const ok = run(() => Promise.resolve(OK));
    const refused = run(() => Promise.resolve(NOT_FOUND));
    await ok.scheduler.advance(0);
    await refused.scheduler.advance(0);
    expect(ok.settled).toEqual([{ outcome: OK, timedOut: false }]);
    expect(refused.settled).toEqual([{ outcome: NOT_FOUND, timedOut: false }]);
    expect(ok.scheduler.pending).toBe(0);
  });

  it('times out at exactly timeoutMs: aborts the signal, settles retryable, ignores a late answer', async () => {
    const r = run('manual', 5000);
    await r.scheduler.advance(4999);
    expect(r.settled).toEqual([]);
    expect(r.signal()?.aborted).toBe(false);
    await r.scheduler.advance(1);
    expect(r.signal()?.aborted).toBe(true);
    expect(r.settled).toEqual([
      { outcome: { ok: false, retryable: true, error: 'timeout' }, timedOut: true },
    ]);
    r.answer(OK);
    await r.scheduler.advance(0);
    expect(r.settled).toHaveLength(1);
  });

  it('treats a notifier that throws or rejects as a retryable network failure', async () => {
    const thrown = run(() => {
      throw new Error('bug');
    });
    const rejected = run(() => Promise.reject(new Error('bug')));
    await thrown.scheduler.advance(0);
    await rejected.scheduler.advance(0);
    const network = { outcome: { ok: false, retryable: true, error: 'network' }, timedOut: false };
    expect(thrown.settled).toEqual([network]);
    expect(rejected.settled).toEqual([network]);
  });

  it('abort settles at once as aborted (not retryable), once, with no timer left', async () => {
    const r = run('manual');
    r.attempt.abort();
    expect(r.signal()?.aborted).toBe(true);
    expect(r.settled).toEqual([
      { outcome: { ok: false, retryable: false, error: 'aborted' }, timedOut: false },
    ]);
    r.attempt.abort();
    r.answer(OK);
    await r.scheduler.advance(10_000);
    expect(r.settled).toHaveLength(1);
    expect(r.scheduler.pending).toBe(0);
  });
});
