// Test doubles for the alert dispatcher: a scheduler on a manual clock, scripted notifiers,
// a log capture and an alert factory.
import { Writable } from 'node:stream';
import type { AlertEvent } from '../../../src/alerts/alert-event.ts';
import type {
  AlertDelivery,
  AlertNotifier,
  DeliveryOutcome,
} from '../../../src/alerts/alert-notifier.ts';
import type { CancelTimer, Timers } from '../../../src/shared/timers.ts';
import type { AlertTarget } from '../../../src/alerts/alert-target.ts';
import type {
  AlertDeliveryResult,
  QueueContext,
  QueueSettings,
  TargetQueue,
} from '../../../src/alerts/target-queue.ts';
import { ManualClock } from '../../../src/shared/clock.ts';
import { createLogger, type Logger } from '../../../src/shared/create-logger.ts';
import { Emitter } from '../../../src/shared/emitter.ts';

interface FakeTimer {
  readonly atMs: number;
  readonly seq: number;
  readonly delayMs: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** Lets every pending promise callback run (they all settle before the next macrotask). */
export async function flush(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Timers on a ManualClock: `advance` fires what is due, in time order, flushing promises between. */
export class FakeScheduler implements Timers {
  readonly clock = new ManualClock(0, Date.UTC(2026, 0, 1, 12, 0, 0));
  #timers: FakeTimer[] = [];
  #seq = 0;

  setTimeout(callback: () => void, delayMs: number): CancelTimer {
    const timer: FakeTimer = {
      atMs: this.clock.nowMs() + delayMs,
      seq: this.#seq++,
      delayMs,
      callback,
      cancelled: false,
    };
    this.#timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Timers not yet fired nor cancelled. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  async advance(ms: number): Promise<void> {
    const endMs = this.clock.nowMs() + ms;
    await flush();
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      const due = this.#timers
        .filter((t) => t.atMs <= endMs)
        .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== due);
      if (due.atMs > this.clock.nowMs()) this.clock.set(due.atMs);
      due.callback();
      await flush();
    }
    this.clock.set(endMs);
    await flush();
  }
}

/**
 * A queue context on `scheduler` that records results, log lines and each settled callback (with
 * the queue's attempts in flight at that moment).
 */
export function aQueueContext(
  scheduler: FakeScheduler,
  settings: Partial<QueueSettings> = {},
): {
  context: QueueContext;
  results: AlertDeliveryResult[];
  log: ReturnType<typeof captureLogger>;
  settled: { queue: TargetQueue; inFlight: number }[];
} {
  const log = captureLogger();
  const results: AlertDeliveryResult[] = [];
  const emitter = new Emitter<AlertDeliveryResult>();
  emitter.subscribe((r) => results.push(r));
  const settled: { queue: TargetQueue; inFlight: number }[] = [];
  const context: QueueContext = {
    settings: {
      maxQueue: 10,
      maxAttempts: 3,
      backoff: { initialMs: 1000, maxMs: 1000 },
      requestTimeoutMs: 5000,
      maxConcurrent: 1,
      warnIntervalMs: 60_000,
      ...settings,
    },
    logger: log.logger,
    clock: scheduler.clock,
    timers: scheduler,
    random: () => 0.5,
    results: emitter,
    onSettled: (queue) => settled.push({ queue, inFlight: queue.inFlight }),
  };
  return { context, results, log, settled };
}

/** What a scripted receiver does on one attempt: answer, or hang (honouring abort or not). */
export type Behaviour = DeliveryOutcome | 'hang' | 'hang-ignoring-abort' | 'throw';

/** One call a scripted notifier received. */
export interface NotifierCall {
  readonly url: string;
  readonly delivery: AlertDelivery;
  readonly signal: AbortSignal;
  readonly atMs: number;
}

export const OK: DeliveryOutcome = { ok: true, status: 200 };
export const UNAVAILABLE: DeliveryOutcome = {
  ok: false,
  retryable: true,
  error: 'http_status',
  status: 503,
};
export const NOT_FOUND: DeliveryOutcome = {
  ok: false,
  retryable: false,
  error: 'http_status',
  status: 404,
  detail: 'no_service',
};

/**
 * Notifiers whose answers are scripted per URL: `script(url, attempt)` picks the behaviour of
 * each call (attempt counts calls to that URL, from 1). Hung calls can be released by hand.
 */
export class ScriptedNotifiers {
  readonly calls: NotifierCall[] = [];
  readonly #clock: ManualClock;
  readonly #script: (url: string, call: number) => Behaviour;
  readonly #hung: { release: (outcome: DeliveryOutcome) => void; url: string }[] = [];

  constructor(clock: ManualClock, script: (url: string, call: number) => Behaviour = () => OK) {
    this.#clock = clock;
    this.#script = script;
  }

  readonly create = (target: AlertTarget): AlertNotifier => ({
    kind: target.kind,
    send: (delivery, signal) => {
      this.calls.push({ url: target.url, delivery, signal, atMs: this.#clock.nowMs() });
      const behaviour = this.#script(target.url, this.callsTo(target.url).length);
      if (behaviour === 'throw') throw new Error(`notifier bug for ${target.url}`);
      if (behaviour === 'hang' || behaviour === 'hang-ignoring-abort') {
        return new Promise<DeliveryOutcome>((resolve) => {
          this.#hung.push({ release: resolve, url: target.url });
          if (behaviour === 'hang') {
            signal.addEventListener('abort', () => {
              resolve({ ok: false, retryable: false, error: 'aborted' });
            });
          }
        });
      }
      return Promise.resolve(behaviour);
    },
  });

  callsTo(url: string): NotifierCall[] {
    return this.calls.filter((c) => c.url === url);
  }

  /** Answers every hung call (to `url`, or all) with `outcome`. */
  release(outcome: DeliveryOutcome = OK, url?: string): void {
    for (const hung of this.#hung.splice(0)) {
      if (url === undefined || hung.url === url) hung.release(outcome);
      else this.#hung.push(hung);
    }
  }
}

/** A logger whose JSON lines are kept in `lines`. */
export function captureLogger(): { logger: Logger; lines: string[]; records: () => LogRecord[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  const logger = createLogger({ destination, level: 'debug' });
  return {
    logger,
    lines,
    records: () => lines.map((line) => JSON.parse(line) as LogRecord),
  };
}

/** The fields tests read from a log line. */
export interface LogRecord {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** An `opened` alert of openai/chat in policy shop/chat-egress, with overrides. */
export function anAlert(overrides: Partial<AlertEvent> = {}): AlertEvent {
  return {
    event: 'opened',
    policy: { namespace: 'shop', name: 'chat-egress' },
    upstream: 'openai',
    endpoint: 'chat',
    fromState: 'closed',
    toState: 'open',
    reason: 'consecutive_failures',
    lastFailure: 'server_error',
    counts: { consecutiveFailures: 5, windowFailures: 5, windowCalls: 9, openings: 1 },
    openForMs: 30_000,
    retryAt: '2026-01-01T12:00:30.000Z',
    at: '2026-01-01T12:00:00.000Z',
    source: { kind: 'sidecar', id: 'chat-7d9f-abcde' },
    ...overrides,
  };
}

/** A copy of `alert` without one optional field (exactOptionalPropertyTypes forbids `undefined`). */
export function without(alert: AlertEvent, key: keyof AlertEvent): AlertEvent {
  return Object.fromEntries(
    Object.entries(alert).filter(([name]) => name !== key),
  ) as unknown as AlertEvent;
}
