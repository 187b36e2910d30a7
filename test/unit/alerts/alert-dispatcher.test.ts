// The dispatcher's promises on a fake clock: filtering, dedup windows, retry schedules, bounded
// queues, timeouts, reloads and shutdown, without a socket or a real timer.
import { describe, expect, it } from 'vitest';
import { AlertDispatcher } from '../../../src/alerts/alert-dispatcher.ts';
import type { AlertDispatcherOptions } from '../../../src/alerts/dispatcher-options.ts';
import type { AlertDeliveryResult } from '../../../src/alerts/target-queue.ts';
import type { AlertEvent } from '../../../src/alerts/alert-event.ts';
import { fingerprintUrl, type AlertTarget } from '../../../src/alerts/alert-target.ts';
import { backoffCeilingMs } from '../../../src/alerts/backoff.ts';
import {
  anAlert,
  captureLogger,
  FakeScheduler,
  flush,
  NOT_FOUND,
  OK,
  ScriptedNotifiers,
  UNAVAILABLE,
  type Behaviour,
} from './alert-test-kit.ts';

const HOOK_A = 'https://hooks.example.test/a/SECRET-token-aaaa';
const HOOK_B = 'https://hooks.example.test/b/SECRET-token-bbbb';
const SLACK = 'https://hooks.slack.test/services/T000/B000/SECRET-slack-cccc';

interface Setup {
  readonly dispatcher: AlertDispatcher;
  readonly scheduler: FakeScheduler;
  readonly notifiers: ScriptedNotifiers;
  readonly results: AlertDeliveryResult[];
  readonly log: ReturnType<typeof captureLogger>;
}

function setup(
  script: (url: string, call: number) => Behaviour = () => OK,
  options: Partial<AlertDispatcherOptions> = {},
  targets: readonly AlertTarget[] = [{ kind: 'webhook', url: HOOK_A }],
  alerting: { on?: AlertEvent['event'][]; dedupWindowMs?: number } = {},
): Setup {
  const scheduler = new FakeScheduler();
  const notifiers = new ScriptedNotifiers(scheduler.clock, script);
  const log = captureLogger();
  let id = 0;
  const dispatcher = new AlertDispatcher({
    logger: log.logger,
    clock: scheduler.clock,
    timers: scheduler,
    random: () => 0.5,
    newId: () => `alert-${++id}`,
    createNotifier: notifiers.create,
    ...options,
  });
  dispatcher.configure({
    on: alerting.on ?? ['opened', 'halfOpen', 'closed', 'allTargetsOpen'],
    dedupWindowMs: alerting.dedupWindowMs ?? 0,
    targets,
  });
  const results: AlertDeliveryResult[] = [];
  dispatcher.onResult((r) => results.push(r));
  return { dispatcher, scheduler, notifiers, results, log };
}

function outcomes(results: readonly AlertDeliveryResult[]): string[] {
  return results.map((r) => `${r.target.kind}[${r.target.index}]:${r.outcome}`);
}

describe('filter by on', () => {
  it('delivers only the events listed in on and counts the others as filtered', async () => {
    const { dispatcher, scheduler, notifiers } = setup(() => OK, {}, undefined, {
      on: ['opened', 'closed'],
    });
    expect(dispatcher.enqueue(anAlert({ event: 'opened' }))).toBe('queued');
    expect(dispatcher.enqueue(anAlert({ event: 'halfOpen' }))).toBe('filtered');
    expect(dispatcher.enqueue(anAlert({ event: 'allTargetsOpen' }))).toBe('filtered');
    expect(dispatcher.enqueue(anAlert({ event: 'closed' }))).toBe('queued');
    await scheduler.advance(0);
    expect(notifiers.calls.map((c) => c.delivery.alert.event)).toEqual(['opened', 'closed']);
    expect(dispatcher.stats()).toMatchObject({ accepted: 2, filtered: 2, deduplicated: 0 });
  });
});

describe('dedup window', () => {
  it('suppresses the same transition of the same circuit until exactly dedupWindowMs has passed', async () => {
    const { dispatcher, scheduler, notifiers } = setup(() => OK, {}, undefined, {
      dedupWindowMs: 60_000,
    });
    expect(dispatcher.enqueue(anAlert())).toBe('queued');
    await scheduler.advance(59_999);
    expect(dispatcher.enqueue(anAlert())).toBe('duplicate');
    await scheduler.advance(1);
    expect(dispatcher.enqueue(anAlert())).toBe('queued');
    // The window restarts at the last accepted alert, not the first.
    await scheduler.advance(59_999);
    expect(dispatcher.enqueue(anAlert())).toBe('duplicate');
    await scheduler.advance(0);
    expect(notifiers.calls).toHaveLength(2);
    expect(dispatcher.stats()).toMatchObject({ accepted: 2, deduplicated: 2 });
  });

  it('keys on policy, upstream, endpoint, model and event: any difference is another transition', () => {
    const { dispatcher } = setup(() => OK, {}, undefined, { dedupWindowMs: 60_000 });
    const variants: AlertEvent[] = [
      anAlert(),
      anAlert({ event: 'closed' }),
      anAlert({ endpoint: 'embeddings' }),
      anAlert({ upstream: 'anthropic' }),
      anAlert({ policy: { namespace: 'shop', name: 'other' } }),
      anAlert({ policy: { namespace: 'other', name: 'chat-egress' } }),
      anAlert({ model: 'gpt-4o' }),
    ];
    expect(variants.map((a) => dispatcher.enqueue(a))).toEqual(variants.map(() => 'queued'));
    // Other fields (source, counts, time) do not make it a new transition: N sidecars, one alert.
    expect(
      dispatcher.enqueue(
        anAlert({ source: { kind: 'sidecar', id: 'another-pod' }, counts: {}, at: 'later' }),
      ),
    ).toBe('duplicate');
  });

  it('sends every alert when dedupWindowMs is 0', () => {
    const { dispatcher } = setup();
    expect([1, 2, 3].map(() => dispatcher.enqueue(anAlert()))).toEqual([
      'queued',
      'queued',
      'queued',
    ]);
  });

  it('keeps its memory across a reload, so a reload never re-sends a transition', () => {
    const { dispatcher } = setup(() => OK, {}, undefined, { dedupWindowMs: 60_000 });
    expect(dispatcher.enqueue(anAlert())).toBe('queued');
    dispatcher.configure({
      on: ['opened'],
      dedupWindowMs: 60_000,
      targets: [{ kind: 'webhook', url: HOOK_B }],
    });
    expect(dispatcher.enqueue(anAlert())).toBe('duplicate');
  });
});

describe('retries', () => {
  it('retries 429/5xx with full-jitter delays below the exponential ceiling, up to maxAttempts', async () => {
    const draws = [0.999, 0, 0.5, 0.999, 0.999];
    const options = { baseDelayMs: 100, maxDelayMs: 1000, maxAttempts: 6 };
    const { dispatcher, scheduler, notifiers, results } = setup(() => UNAVAILABLE, {
      ...options,
      random: () => draws.shift() ?? 0,
    });
    dispatcher.enqueue(anAlert());
    await scheduler.advance(10_000);

    const retries = results.filter((r) => r.outcome === 'retrying');
    expect(retries.map((r) => r.retryInMs)).toEqual([99, 0, 200, 799, 999]);
    retries.forEach((r, i) => {
      expect(r.retryInMs).toBeGreaterThanOrEqual(0);
      expect(r.retryInMs).toBeLessThan(
        backoffCeilingMs(i + 1, { initialMs: options.baseDelayMs, maxMs: options.maxDelayMs }),
      );
    });
    // Attempts happen exactly when the drawn delays say.
    const gaps = notifiers.calls.slice(1).map((c, i) => c.atMs - (notifiers.calls[i]?.atMs ?? 0));
    expect(gaps).toEqual([99, 0, 200, 799, 999]);
    expect(notifiers.calls).toHaveLength(6);
    expect(results.at(-1)).toMatchObject({ outcome: 'failed', attempt: 6, status: 503 });
    expect(dispatcher.stats().targets.webhook).toMatchObject({
      sent: 0,
      failed: 1,
      retried: 5,
      queued: 0,
      inFlight: 0,
    });
  });

  it('sends once after two 503s: three attempts, one delivery, the same alert id each time', async () => {
    const { dispatcher, scheduler, notifiers, results } = setup((_url, call) =>
      call <= 2 ? UNAVAILABLE : OK,
    );
    dispatcher.enqueue(anAlert());
    await scheduler.advance(10_000);
    expect(notifiers.calls.map((c) => c.delivery.attempt)).toEqual([1, 2, 3]);
    expect(new Set(notifiers.calls.map((c) => c.delivery.id))).toEqual(new Set(['alert-1']));
    expect(outcomes(results)).toEqual([
      'webhook[0]:retrying',
      'webhook[0]:retrying',
      'webhook[0]:sent',
    ]);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ sent: 1, retried: 2, failed: 0 });
  });

  it('puts a due retry ahead of newer alerts, so a receiver sees transitions in order', async () => {
    const { dispatcher, scheduler, notifiers } = setup(
      (_url, call) => (call === 1 ? UNAVAILABLE : call === 2 ? 'hang' : OK),
      { maxConcurrentPerTarget: 1 },
    );
    dispatcher.enqueue(anAlert({ upstream: 'u1' }));
    dispatcher.enqueue(anAlert({ upstream: 'u2' }));
    await scheduler.advance(0);
    dispatcher.enqueue(anAlert({ upstream: 'u3' }));
    await scheduler.advance(1000);
    notifiers.release(OK);
    await flush();
    expect(notifiers.calls.map((c) => c.delivery.alert.upstream)).toEqual(['u1', 'u2', 'u1', 'u3']);
  });

  it("waits at least the receiver's Retry-After, but never longer than maxDelayMs", async () => {
    const { dispatcher, scheduler, results } = setup(
      (_url, call) =>
        call === 1
          ? { ...UNAVAILABLE, status: 429, retryAfterMs: 7000 }
          : call === 2
            ? { ...UNAVAILABLE, status: 429, retryAfterMs: 3_600_000 }
            : OK,
      { baseDelayMs: 100, maxDelayMs: 20_000 },
    );
    dispatcher.enqueue(anAlert());
    await scheduler.advance(60_000);
    expect(results.map((r) => r.retryInMs)).toEqual([7000, 20_000, undefined]);
  });

  it('does not retry a permanent 4xx: one attempt, counted as failed, one warning', async () => {
    const { dispatcher, scheduler, notifiers, results, log } = setup(() => NOT_FOUND);
    dispatcher.enqueue(anAlert());
    await scheduler.advance(60_000);
    expect(notifiers.calls).toHaveLength(1);
    expect(results).toEqual([
      expect.objectContaining({ outcome: 'failed', status: 404, detail: 'no_service', attempt: 1 }),
    ]);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ failed: 1, retried: 0 });
    const warnings = log.records().filter((r) => r.level === 'warn');
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: 'alert receiver refused the alert',
        permanent: true,
        status: 404,
        target: { kind: 'webhook', index: 0, fingerprint: fingerprintUrl(HOOK_A) },
      }),
    ]);
  });

  it('throttles failure warnings per target: a dead receiver costs one line per interval', async () => {
    const { dispatcher, scheduler, log } = setup(() => NOT_FOUND, { warnIntervalMs: 60_000 });
    for (let i = 0; i < 5; i++) dispatcher.enqueue(anAlert());
    await scheduler.advance(1000);
    expect(log.records().filter((r) => r.level === 'warn')).toHaveLength(1);
    await scheduler.advance(60_000);
    dispatcher.enqueue(anAlert());
    await scheduler.advance(0);
    const warnings = log.records().filter((r) => r.level === 'warn');
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatchObject({ suppressedSinceLastWarning: 4 });
    expect(dispatcher.stats().targets.webhook.failed).toBe(6);
  });
});

describe('bounded queue', () => {
  it('drops the oldest deliveries when a target queue is full, counting them and warning once', async () => {
    const { dispatcher, scheduler, notifiers, results, log } = setup(() => 'hang', {
      maxQueue: 3,
      maxConcurrentPerTarget: 1,
    });
    const upstreams = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
    for (const upstream of upstreams) {
      expect(dispatcher.enqueue(anAlert({ upstream }))).toBe('queued');
      expect(dispatcher.stats().targets.webhook.queued).toBeLessThanOrEqual(3);
    }
    await scheduler.advance(0);
    expect(results.filter((r) => r.outcome === 'dropped').map((r) => r.alert.upstream)).toEqual([
      'u1',
      'u2',
      'u3',
    ]);
    expect(results.every((r) => r.dropReason === 'queue_full')).toBe(true);
    expect(dispatcher.stats().targets.webhook).toMatchObject({
      dropped: 3,
      queued: 2,
      inFlight: 1,
    });
    expect(
      log.records().filter((r) => r.msg === 'alert queue full, dropped the oldest alert'),
    ).toHaveLength(1);

    for (let i = 0; i < 3; i++) {
      notifiers.release(OK);
      await flush();
    }
    expect(notifiers.calls.map((c) => c.delivery.alert.upstream)).toEqual(['u4', 'u5', 'u6']);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ sent: 3, queued: 0, inFlight: 0 });
  });

  it('counts deliveries waiting for a retry against the bound, dropping the oldest of them too', async () => {
    const { dispatcher, scheduler, results } = setup(() => UNAVAILABLE, {
      maxQueue: 2,
      baseDelayMs: 10_000,
      maxDelayMs: 10_000,
    });
    dispatcher.enqueue(anAlert({ upstream: 'u1' }));
    dispatcher.enqueue(anAlert({ upstream: 'u2' }));
    await scheduler.advance(0);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ queued: 2, inFlight: 0 });
    dispatcher.enqueue(anAlert({ upstream: 'u3' }));
    expect(results.filter((r) => r.outcome === 'dropped').map((r) => r.alert.upstream)).toEqual([
      'u1',
    ]);
    expect(dispatcher.stats().targets.webhook.queued).toBe(2);
  });

  it('keeps at most maxConcurrentPerTarget attempts in flight per target', async () => {
    const { dispatcher, scheduler, notifiers } = setup(() => 'hang', { maxConcurrentPerTarget: 2 });
    for (let i = 0; i < 5; i++) dispatcher.enqueue(anAlert({ upstream: `u${i}` }));
    await scheduler.advance(0);
    expect(notifiers.calls).toHaveLength(2);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ inFlight: 2, queued: 3 });
  });
});

describe('per-request timeout', () => {
  it('abandons an attempt after requestTimeoutMs, aborts its request and retries it', async () => {
    const { dispatcher, scheduler, notifiers, results } = setup(
      (_url, call) => (call === 1 ? 'hang' : OK),
      { requestTimeoutMs: 5000 },
    );
    dispatcher.enqueue(anAlert());
    await scheduler.advance(4999);
    expect(results).toEqual([]);
    expect(notifiers.calls[0]?.signal.aborted).toBe(false);
    await scheduler.advance(1);
    expect(notifiers.calls[0]?.signal.aborted).toBe(true);
    expect(results[0]).toMatchObject({ outcome: 'retrying', error: 'timeout' });
    await scheduler.advance(1000);
    expect(outcomes(results)).toEqual(['webhook[0]:retrying', 'webhook[0]:sent']);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ timedOut: 1, sent: 1 });
  });

  it('frees the slot even when a notifier ignores the abort, and never delays other targets', async () => {
    const { dispatcher, scheduler, notifiers, results } = setup(
      (url) => (url === HOOK_A ? 'hang-ignoring-abort' : OK),
      { requestTimeoutMs: 5000, maxConcurrentPerTarget: 1, maxAttempts: 1 },
      [
        { kind: 'webhook', url: HOOK_A },
        { kind: 'slack', url: SLACK },
      ],
    );
    dispatcher.enqueue(anAlert({ upstream: 'u1' }));
    dispatcher.enqueue(anAlert({ upstream: 'u2' }));
    await scheduler.advance(0);
    // Slack got both at once while the webhook sits on its first.
    expect(notifiers.callsTo(SLACK)).toHaveLength(2);
    expect(outcomes(results)).toEqual(['slack[0]:sent', 'slack[0]:sent']);
    await scheduler.advance(5000);
    expect(notifiers.callsTo(HOOK_A)).toHaveLength(2);
    await scheduler.advance(5000);
    expect(dispatcher.stats().targets.webhook).toMatchObject({
      failed: 2,
      timedOut: 2,
      inFlight: 0,
    });
  });
});

describe('configure (hot reload)', () => {
  it('replaces targets: a removed one drops what waits, a new one gets the following alerts', async () => {
    const { dispatcher, scheduler, notifiers, results } = setup(
      (url) => (url === HOOK_A ? UNAVAILABLE : OK),
      { baseDelayMs: 10_000, maxDelayMs: 10_000 },
    );
    dispatcher.enqueue(anAlert({ upstream: 'u1' }));
    await scheduler.advance(0);
    const statuses = dispatcher.configure({
      on: ['opened'],
      dedupWindowMs: 0,
      targets: [{ kind: 'webhook', url: HOOK_B }],
    });
    expect(statuses).toEqual([
      expect.objectContaining({ kind: 'webhook', index: 0, accepted: true }),
    ]);
    dispatcher.enqueue(anAlert({ upstream: 'u2' }));
    await scheduler.advance(60_000);
    expect(notifiers.callsTo(HOOK_A).map((c) => c.delivery.alert.upstream)).toEqual(['u1']);
    expect(notifiers.callsTo(HOOK_B).map((c) => c.delivery.alert.upstream)).toEqual(['u2']);
    expect(results.map((r) => `${r.alert.upstream}:${r.outcome}:${r.dropReason ?? ''}`)).toEqual([
      'u1:retrying:',
      'u1:dropped:target_removed',
      'u2:sent:',
    ]);
  });

  it('keeps the queue and attempts in flight of a target whose URL did not change', async () => {
    const { dispatcher, scheduler, notifiers } = setup(() => 'hang', { maxConcurrentPerTarget: 1 });
    dispatcher.enqueue(anAlert({ upstream: 'u1' }));
    dispatcher.enqueue(anAlert({ upstream: 'u2' }));
    await scheduler.advance(0);
    dispatcher.configure({
      on: ['opened'],
      dedupWindowMs: 0,
      targets: [
        { kind: 'slack', url: SLACK },
        { kind: 'webhook', url: HOOK_A },
      ],
    });
    await scheduler.advance(0);
    expect(notifiers.calls[0]?.signal.aborted).toBe(false);
    notifiers.release(OK, HOOK_A);
    await flush();
    notifiers.release(OK, HOOK_A);
    await flush();
    expect(notifiers.callsTo(HOOK_A).map((c) => c.delivery.alert.upstream)).toEqual(['u1', 'u2']);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ sent: 2, dropped: 0 });
  });

  it('lets an attempt in flight to a removed target finish, but never retries it', async () => {
    const { dispatcher, scheduler, notifiers, results } = setup(() => 'hang');
    dispatcher.enqueue(anAlert());
    await scheduler.advance(0);
    dispatcher.configure({ on: ['opened'], dedupWindowMs: 0, targets: [] });
    expect(dispatcher.stats().targets.webhook.inFlight).toBe(1);
    notifiers.release(UNAVAILABLE);
    await flush();
    expect(outcomes(results)).toEqual(['webhook[0]:dropped']);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ inFlight: 0, retried: 0 });
    expect(dispatcher.enqueue(anAlert())).toBe('no_targets');
  });

  it('reports unusable targets instead of throwing, naming them by kind, index and fingerprint', () => {
    const { dispatcher, log } = setup();
    const statuses = dispatcher.configure({
      on: ['opened'],
      dedupWindowMs: 0,
      targets: [
        { kind: 'webhook', url: 'not a url SECRET-invalid' },
        { kind: 'webhook', url: 'ftp://files.example.test/SECRET-ftp' },
        { kind: 'webhook', url: HOOK_A },
        { kind: 'webhook', url: HOOK_A },
        { kind: 'slack', url: SLACK, index: 0 },
      ],
    });
    expect(statuses.map((s) => `${s.kind}[${s.index}]:${s.problem ?? 'ok'}`)).toEqual([
      'webhook[0]:invalid_url',
      'webhook[1]:invalid_url',
      'webhook[2]:ok',
      'webhook[3]:duplicate',
      'slack[0]:ok',
    ]);
    expect(JSON.stringify(statuses) + log.lines.join('')).not.toMatch(/SECRET/);
  });

  it('rejects out-of-range options with AICB_INVALID_ALERT_CONFIG, quoting the value', () => {
    const { logger } = captureLogger();
    expect(() => new AlertDispatcher({ logger, maxQueue: 0 })).toThrow(
      expect.objectContaining({
        code: 'AICB_INVALID_ALERT_CONFIG',
        message: 'alerts: maxQueue must be an integer >= 1, got 0',
      }),
    );
    expect(() => new AlertDispatcher({ logger, baseDelayMs: 1000, maxDelayMs: 10 })).toThrow(
      /maxDelayMs must be an integer >= 1000, got 10/,
    );
    const dispatcher = new AlertDispatcher({ logger });
    expect(() =>
      dispatcher.configure({
        on: ['sometimes' as AlertEvent['event']],
        dedupWindowMs: 0,
        targets: [],
      }),
    ).toThrow(expect.objectContaining({ code: 'AICB_INVALID_ALERT_CONFIG' }));
    expect(() => dispatcher.configure({ on: [], dedupWindowMs: -1, targets: [] })).toThrow(
      /dedupWindowMs must be a finite number >= 0, got -1/,
    );
  });
});

describe('enqueue', () => {
  it('never throws and never waits, whatever it is given', async () => {
    const { dispatcher, scheduler } = setup();
    expect(dispatcher.enqueue({ event: 'opened' } as AlertEvent)).toBe('invalid');
    expect(dispatcher.enqueue(null as unknown as AlertEvent)).toBe('invalid');
    const result: unknown = dispatcher.enqueue(anAlert());
    expect(result).toBe('queued');
    const closing = dispatcher.close();
    expect(dispatcher.enqueue(anAlert())).toBe('closed');
    await scheduler.advance(0);
    await closing;
  });

  it('returns no_targets before any target is configured', () => {
    const { logger } = captureLogger();
    const dispatcher = new AlertDispatcher({ logger });
    dispatcher.configure({ on: ['opened'], dedupWindowMs: 0, targets: [] });
    expect(dispatcher.enqueue(anAlert())).toBe('no_targets');
  });

  it('survives a notifier that throws (a retryable failure) and a result listener that throws', async () => {
    const { dispatcher, scheduler, results, log } = setup((_url, call) =>
      call === 1 ? 'throw' : OK,
    );
    dispatcher.onResult(() => {
      throw new Error('listener bug');
    });
    dispatcher.enqueue(anAlert());
    await scheduler.advance(1000);
    expect(outcomes(results)).toEqual(['webhook[0]:retrying', 'webhook[0]:sent']);
    expect(results[0]).toMatchObject({ error: 'network' });
    expect(log.records().some((r) => r.msg === 'alert result listener threw')).toBe(true);
    // The notifier's error message quoted its URL; it went nowhere.
    expect(log.lines.join('')).not.toContain('SECRET');
  });
});

describe('close', () => {
  it('delivers what is queued and pending retries before resolving', async () => {
    const { dispatcher, scheduler, notifiers } = setup((_url, call) =>
      call === 1 ? UNAVAILABLE : OK,
    );
    dispatcher.enqueue(anAlert({ upstream: 'u1' }));
    dispatcher.enqueue(anAlert({ upstream: 'u2' }));
    let closed = false;
    const closing = dispatcher.close({ deadlineMs: 10_000 }).then(() => {
      closed = true;
    });
    await scheduler.advance(0);
    expect(closed).toBe(false);
    await scheduler.advance(1000);
    await closing;
    expect(
      notifiers.calls.map((c) => `${c.delivery.alert.upstream}#${c.delivery.attempt}`),
    ).toEqual(['u1#1', 'u2#1', 'u1#2']);
    expect(dispatcher.stats().targets.webhook).toMatchObject({ sent: 2, dropped: 0 });
  });

  it('gives up at the deadline: aborts attempts in flight and counts what is left as dropped', async () => {
    const { dispatcher, scheduler, notifiers, log } = setup(() => 'hang', {
      maxConcurrentPerTarget: 1,
      requestTimeoutMs: 60_000,
    });
    dispatcher.enqueue(anAlert({ upstream: 'u1' }));
    dispatcher.enqueue(anAlert({ upstream: 'u2' }));
    const closing = dispatcher.close({ deadlineMs: 2000 });
    await scheduler.advance(2000);
    await closing;
    expect(notifiers.calls[0]?.signal.aborted).toBe(true);
    expect(dispatcher.stats().targets.webhook).toMatchObject({
      dropped: 2,
      inFlight: 0,
      queued: 0,
    });
    expect(log.records()).toContainEqual(
      expect.objectContaining({
        msg: 'alerts not delivered before the close deadline',
        abandoned: 2,
      }),
    );
    expect(scheduler.pending).toBe(0);
  });
});
