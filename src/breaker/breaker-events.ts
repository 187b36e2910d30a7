import { Emitter, type Listener } from '../shared/emitter.ts';
import type { BreakerStateKind, TransitionReason } from './breaker-state.ts';
import type { OutcomeClass, RejectionReason } from './breaker-ticket.ts';
import type { TripReason } from './trip-rules.ts';

/** Exactly one per real transition (the state kind changed), in commit order. */
export interface StateChangeEvent {
  readonly key: string;
  readonly from: BreakerStateKind;
  readonly to: BreakerStateKind;
  readonly reason: TransitionReason;
  /** Epoch of the new state. */
  readonly epoch: number;
  /** Backoff attempt of the new state. */
  readonly attempt: number;
  /** Monotonic deadline when the new state is open. */
  readonly openUntilMs?: number;
  /** Length of the open period just started, when the new state is open. */
  readonly openForMs?: number;
  /** Operator's text for manual transitions (forceOpen reason). */
  readonly note?: string;
  /** Wall-clock time of the commit (for logs, alerts, status). */
  readonly atWallMs: number;
}

/** A call refused without an upstream request. */
export interface RejectedEvent {
  readonly key: string;
  readonly reason: RejectionReason;
  readonly retryAfterMs: number;
  readonly epoch: number;
}

/** A reported outcome; `late` ones were admitted in an earlier epoch and decided nothing. */
export interface OutcomeEvent {
  readonly key: string;
  readonly class: OutcomeClass;
  /** 429-style failure that does not touch the consecutive streak. */
  readonly soft: boolean;
  readonly slow: boolean;
  readonly late: boolean;
  readonly isProbe: boolean;
  readonly durationMs: number;
  /** Epoch of the ticket the outcome was reported against. */
  readonly epoch: number;
}

/** A trip rule fired: before a trip in CLOSED, once per crossing in METRICS_ONLY. */
export interface ThresholdExceededEvent {
  readonly key: string;
  readonly kind: TripReason;
  /** Measured value (count for consecutive, 0..1 share for rates). */
  readonly value: number;
  /** Threshold it reached, in the same unit. */
  readonly threshold: number;
  /** True when the breaker only reports (METRICS_ONLY) instead of opening. */
  readonly metricsOnly: boolean;
}

/** A probe's lease expired before it settled; it counts as a failed probe. */
export interface ProbeTimeoutEvent {
  readonly key: string;
  readonly epoch: number;
  readonly leaseMs: number;
}

/** The breaker was returned to a clean CLOSED state by an operator or an expiring override. */
export interface ResetEvent {
  readonly key: string;
  readonly reason: 'reset' | 'release' | 'force_expired';
}

/** The registry dropped a key (its metric series should go too). */
export interface EvictedEvent {
  readonly key: string;
  readonly reason: 'capacity' | 'idle' | 'removed';
}

/** Event name to payload. */
export interface BreakerEventMap {
  stateChange: StateChangeEvent;
  rejected: RejectedEvent;
  outcome: OutcomeEvent;
  thresholdExceeded: ThresholdExceededEvent;
  probeTimeout: ProbeTimeoutEvent;
  reset: ResetEvent;
  evicted: EvictedEvent;
}

/** Name of a breaker event. */
export type BreakerEventName = keyof BreakerEventMap;

type Emitters = { readonly [K in BreakerEventName]: Emitter<BreakerEventMap[K]> };

/**
 * Typed events of one breaker or of every breaker in a registry (payloads carry the key).
 *
 * Metrics, logs, alerts and status subscribe here; the breaker imports none of them. Breakers
 * check `has(name)` before building a payload, so an event nobody listens to costs one length
 * check. Events raised while an operation is in progress are queued and delivered after it has
 * committed its state, in commit order, even when a listener re-enters the breaker. A listener
 * that throws is reported to `onListenerError` and changes nothing.
 */
export class BreakerEvents {
  readonly #emitters: Emitters;
  readonly #queue: (() => void)[] = [];
  #depth = 0;
  #draining = false;

  constructor(onListenerError: (error: unknown) => void = () => undefined) {
    this.#emitters = {
      stateChange: new Emitter(onListenerError),
      rejected: new Emitter(onListenerError),
      outcome: new Emitter(onListenerError),
      thresholdExceeded: new Emitter(onListenerError),
      probeTimeout: new Emitter(onListenerError),
      reset: new Emitter(onListenerError),
      evicted: new Emitter(onListenerError),
    };
  }

  /** Subscribes to one event; the returned function unsubscribes (idempotent). */
  on<K extends BreakerEventName>(name: K, listener: Listener<BreakerEventMap[K]>): () => void {
    return this.#emitters[name].subscribe(listener);
  }

  /** True when someone listens to `name`; callers skip building the payload otherwise. */
  has(name: BreakerEventName): boolean {
    return this.#emitters[name].size > 0;
  }

  /** Delivers an event now, or after the operation in progress has committed. */
  publish<K extends BreakerEventName>(name: K, event: BreakerEventMap[K]): void {
    const emitter = this.#emitters[name];
    if (this.#depth > 0 || this.#draining) {
      this.#queue.push(() => {
        emitter.emit(event);
      });
      return;
    }
    this.#draining = true;
    try {
      emitter.emit(event);
      this.#drain();
    } finally {
      this.#draining = false;
    }
  }

  /**
   * The one form of a state operation: runs `op` with `self` as `this` between begin() and end(),
   * so the events it publishes reach listeners only after it has committed its state, or thrown
   * (B7). The operation and its arguments are passed, not captured, so that callers on the closed
   * path allocate no closure: pass a method and at most two values (pack more into an object the
   * caller reuses).
   */
  batch<T, R>(self: T, op: (this: T) => R): R;
  batch<T, A, R>(self: T, op: (this: T, a: A) => R, a: A): R;
  batch<T, A, B, R>(self: T, op: (this: T, a: A, b: B) => R, a: A, b: B): R;
  batch<T, A, B, R>(self: T, op: (this: T, a?: A, b?: B) => R, a?: A, b?: B): R {
    this.#depth++;
    try {
      return op.call(self, a, b);
    } finally {
      this.end();
    }
  }

  /** Marks the start of a state operation; events published until end() are held back. */
  begin(): void {
    this.#depth++;
  }

  /** Ends a state operation and delivers what it queued, in order. */
  end(): void {
    this.#depth--;
    if (this.#depth > 0 || this.#draining || this.#queue.length === 0) return;
    this.#draining = true;
    try {
      this.#drain();
    } finally {
      this.#draining = false;
    }
  }

  #drain(): void {
    // Listeners may queue more while we deliver; the loop picks those up in order.
    // (An array iterator re-reads the length, so items appended during delivery are included.)
    const queue = this.#queue;
    for (const deliver of queue) deliver();
    queue.length = 0;
  }
}
