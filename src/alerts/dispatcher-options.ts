/**
 * The dispatcher's construction options, their defaults (suited to a sidecar) and their checks.
 * A value out of range throws `AlertConfigError` quoting it, at construction, never later.
 */
import type { Dispatcher } from 'undici';
import type { Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/create-logger.ts';
import type { Timers } from '../shared/timers.ts';
import type { AlertNotifier } from './alert-notifier.ts';
import type { AlertTarget } from './alert-target.ts';
import { AlertConfigError } from './errors.ts';
import type { QueueSettings } from './target-queue.ts';

/** Construction options; every number has a default suited to a sidecar. */
export interface AlertDispatcherOptions {
  readonly logger: Logger;
  /** Monotonic time for the dedup window and log throttling. Default: the system clock. */
  readonly clock?: Clock;
  /** Timers for retries, request timeouts and the close deadline. Default: real timers. */
  readonly timers?: Timers;
  /** Uniform [0, 1) source for backoff jitter. Default: Math.random. */
  readonly random?: () => number;
  /** Id of each alert, sent as `x-aicb-alert-id`. Default: a random UUID. */
  readonly newId?: () => string;
  /** Deliveries waiting per target (queued or between retries); the oldest is dropped beyond it. Default 1000. */
  readonly maxQueue?: number;
  /** Attempts per delivery, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Ceiling of the first retry delay (full jitter below it, doubling per retry). Default 500 ms. */
  readonly baseDelayMs?: number;
  /** Largest retry delay, `Retry-After` included. Default 30 s. */
  readonly maxDelayMs?: number;
  /** One attempt is abandoned (and its connection closed) after this. Default 5 s. */
  readonly requestTimeoutMs?: number;
  /** Attempts in flight per target. Default 2. */
  readonly maxConcurrentPerTarget?: number;
  /** At most one warning per target and kind of problem in this period; the rest are counted. Default 60 s. */
  readonly warnIntervalMs?: number;
  /** Builds a target's notifier. Default: webhook / Slack notifiers over `http`. */
  readonly createNotifier?: (target: AlertTarget) => AlertNotifier;
  /** undici dispatcher for the default notifiers. Default: an Agent owned (and closed) by the dispatcher. */
  readonly http?: Dispatcher;
}

const DEFAULTS = {
  maxQueue: 1000,
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  requestTimeoutMs: 5000,
  maxConcurrentPerTarget: 2,
  warnIntervalMs: 60_000,
  closeDeadlineMs: 5000,
} as const;

/** The per-target settings the options give, checked and with defaults. */
export function queueSettingsOf(options: AlertDispatcherOptions): QueueSettings {
  const maxQueue = intAtLeast('maxQueue', options.maxQueue ?? DEFAULTS.maxQueue, 1);
  const maxAttempts = intAtLeast('maxAttempts', options.maxAttempts ?? DEFAULTS.maxAttempts, 1);
  const baseDelayMs = intAtLeast('baseDelayMs', options.baseDelayMs ?? DEFAULTS.baseDelayMs, 0);
  const maxDelayMs = intAtLeast(
    'maxDelayMs',
    options.maxDelayMs ?? Math.max(DEFAULTS.maxDelayMs, baseDelayMs),
    baseDelayMs,
  );
  const requestTimeoutMs = intAtLeast(
    'requestTimeoutMs',
    options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
    1,
  );
  const maxConcurrent = intAtLeast(
    'maxConcurrentPerTarget',
    options.maxConcurrentPerTarget ?? DEFAULTS.maxConcurrentPerTarget,
    1,
  );
  const warnIntervalMs = intAtLeast(
    'warnIntervalMs',
    options.warnIntervalMs ?? DEFAULTS.warnIntervalMs,
    0,
  );
  return {
    maxQueue,
    maxAttempts,
    backoff: { initialMs: baseDelayMs, maxMs: maxDelayMs },
    requestTimeoutMs,
    maxConcurrent,
    warnIntervalMs,
  };
}

/** `close`'s deadline, checked, default 5 s. */
export function closeDeadlineMsOf(deadlineMs: number | undefined): number {
  return intAtLeast('deadlineMs', deadlineMs ?? DEFAULTS.closeDeadlineMs, 0);
}

function intAtLeast(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new AlertConfigError(`alerts: ${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}
