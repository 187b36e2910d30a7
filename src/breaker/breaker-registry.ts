import { systemClock, type Clock } from '../shared/clock.ts';
import type { BreakerConfig } from './breaker-config.ts';
import { describeValue, validateBreakerConfig } from './breaker-config-validation.ts';
import { DEFAULT_BREAKER_CONFIG } from './breaker-defaults.ts';
import { BreakerEvents, type EvictedEvent } from './breaker-events.ts';
import type { BreakerSnapshot } from './breaker-snapshot.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { BreakerConfigError } from './errors.ts';
import type { RandomSource } from './open-duration.ts';

/** How to build a registry. */
export interface BreakerRegistryOptions {
  /** Config for a key, called when the key is first seen and on reconfigure (default: defaults). */
  readonly configFor?: (key: string) => BreakerConfig;
  /** Shared time source. */
  readonly clock?: Clock;
  /** Shared jitter source. */
  readonly random?: RandomSource;
  /** Soft bound on keys (default 10 000); see BreakerRegistry for when it can be exceeded. */
  readonly maxKeys?: number;
  /** Keys unused this long are dropped by sweep() when evictable (default 15 min; 0 = never). */
  readonly idleTtlMs?: number;
  /** Where a throwing event listener's error goes (default: swallowed). */
  readonly onListenerError?: (error: unknown) => void;
}

interface Entry {
  readonly key: string;
  readonly breaker: CircuitBreaker;
  /** Creation time, or the time of the first sweep that saw the key used since the last one. */
  lastUsedMs: number;
  /** Set by get(); sweep() turns it into lastUsedMs, so a lookup never reads the clock. */
  touched: boolean;
  /** Towards the most recently used entry. */
  newer: Entry | null;
  /** Towards the least recently used entry. */
  older: Entry | null;
}

/**
 * One breaker per key with a bounded, LRU-ordered key set (B1), so a stream of distinct keys
 * (models, credentials) cannot grow memory or metric cardinality without limit.
 *
 * Only keys that hold nothing worth keeping are ever dropped: CLOSED with an empty window and no
 * streak, or DISABLED. OPEN, HALF_OPEN, FORCED_OPEN and METRICS_ONLY keys stay, because a
 * re-created breaker would forget an outage. So `maxKeys` is a soft bound: when every key holds
 * state, a new key is still created (a caller is never refused a breaker) and the registry
 * shrinks back as keys become evictable. Every drop emits `evicted` so metrics delete the series.
 * All breakers publish to the registry's one event hub; payloads carry the key.
 */
export class BreakerRegistry {
  /** Events of every breaker in the registry, plus `evicted`. */
  readonly events: BreakerEvents;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #maxKeys: number;
  readonly #idleTtlMs: number;
  readonly #entries = new Map<string, Entry>();
  #configFor: (key: string) => BreakerConfig;
  #newest: Entry | null = null;
  #oldest: Entry | null = null;

  constructor(options: BreakerRegistryOptions = {}) {
    const maxKeys: unknown = options.maxKeys ?? 10_000;
    if (typeof maxKeys !== 'number' || !Number.isSafeInteger(maxKeys) || maxKeys < 1) {
      throw new BreakerConfigError(
        `maxKeys must be an integer >= 1, got ${describeValue(maxKeys)}`,
      );
    }
    const idleTtlMs: unknown = options.idleTtlMs ?? 900_000;
    if (typeof idleTtlMs !== 'number' || !Number.isSafeInteger(idleTtlMs) || idleTtlMs < 0) {
      throw new BreakerConfigError(
        `idleTtlMs must be an integer >= 0, got ${describeValue(idleTtlMs)}`,
      );
    }
    this.#maxKeys = maxKeys;
    this.#idleTtlMs = idleTtlMs;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#configFor = options.configFor ?? (() => DEFAULT_BREAKER_CONFIG);
    this.events = new BreakerEvents(options.onListenerError);
  }

  /** Number of keys held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The breaker of `key`, created on first use; marks the key as recently used. */
  get(key: string): CircuitBreaker {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.touched = true;
      this.#moveToNewest(entry);
      return entry.breaker;
    }
    // Evicted events are delivered once the registry is consistent again, so a listener that
    // calls back into the registry never sees a half-updated list.
    return this.events.batch(this, this.#create, key);
  }

  #create(key: string): CircuitBreaker {
    const breaker = new CircuitBreaker({
      key,
      config: this.#configFor(key),
      clock: this.#clock,
      random: this.#random,
      events: this.events,
    });
    if (this.#entries.size >= this.#maxKeys) this.#makeRoom();
    const created: Entry = {
      key,
      breaker,
      lastUsedMs: this.#clock.nowMs(),
      touched: false,
      newer: null,
      older: null,
    };
    this.#entries.set(key, created);
    this.#linkNewest(created);
    return breaker;
  }

  /** The breaker of `key` if present, without creating it or touching its recency. */
  peek(key: string): CircuitBreaker | undefined {
    return this.#entries.get(key)?.breaker;
  }

  /** Keys from most to least recently used. */
  keys(): string[] {
    const keys: string[] = [];
    for (let e = this.#newest; e !== null; e = e.older) keys.push(e.key);
    return keys;
  }

  /** Drops a key whatever its state (operator action); emits `evicted` with reason removed. */
  remove(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.events.batch(this, this.#drop, entry, 'removed');
    return true;
  }

  /**
   * Housekeeping for a periodic timer owned by the caller: drops evictable keys idle for
   * idleTtlMs and applies due deadlines (probe leases, forced expiry) so status stays current.
   * Lookups only flag a key as used (no clock read on the request path); the sweep dates that
   * use, so idleness is measured at sweep granularity and errs on keeping a key one interval
   * longer. Returns the number of keys dropped.
   */
  sweep(): number {
    return this.events.batch(this, this.#sweep);
  }

  #sweep(): number {
    const now = this.#clock.nowMs();
    let dropped = 0;
    let entry = this.#oldest;
    while (entry !== null) {
      const newer = entry.newer;
      if (entry.touched) {
        entry.touched = false;
        entry.lastUsedMs = now;
      }
      const idle = this.#idleTtlMs > 0 && now - entry.lastUsedMs >= this.#idleTtlMs;
      // isEvictable() also settles the breaker's due deadlines, so call it for every key.
      if (entry.breaker.isEvictable() && idle) {
        this.#drop(entry, 'idle');
        dropped++;
      }
      entry = newer;
    }
    return dropped;
  }

  /** Applies a new per-key config to every breaker (hot reload) and to keys created later. */
  reconfigure(configFor: (key: string) => BreakerConfig): void {
    // Validate every key's config before touching any breaker, so a bad reload changes nothing.
    const configs = new Map<string, BreakerConfig>();
    for (const key of this.#entries.keys()) configs.set(key, validateBreakerConfig(configFor(key)));
    for (const [key, config] of configs) this.#entries.get(key)?.breaker.updateConfig(config);
    this.#configFor = configFor;
  }

  /** Snapshots of every key (B9), for persistence across restarts. */
  snapshot(): BreakerSnapshot[] {
    const out: BreakerSnapshot[] = [];
    for (let e = this.#oldest; e !== null; e = e.newer) out.push(e.breaker.snapshot());
    return out;
  }

  /** Restores snapshots taken by snapshot(), creating keys as needed. */
  restore(snapshots: readonly unknown[]): void {
    for (const value of snapshots) {
      const key: unknown =
        typeof value === 'object' && value !== null ? (value as { key?: unknown }).key : undefined;
      if (typeof key !== 'string' || key === '') {
        throw new BreakerConfigError(
          `snapshot key must be a non-empty string, got ${describeValue(key)}`,
        );
      }
      this.get(key).restore(value);
    }
  }

  /**
   * Drops least recently used evictable keys until there is room for one more, so a registry that
   * went over the bound while every key held state shrinks back once keys become evictable.
   */
  #makeRoom(): void {
    let entry = this.#oldest;
    while (entry !== null && this.#entries.size >= this.#maxKeys) {
      const newer = entry.newer;
      if (entry.breaker.isEvictable()) this.#drop(entry, 'capacity');
      entry = newer;
    }
  }

  #drop(entry: Entry, reason: EvictedEvent['reason']): void {
    this.#entries.delete(entry.key);
    this.#unlink(entry);
    entry.breaker.detach();
    if (this.events.has('evicted')) this.events.publish('evicted', { key: entry.key, reason });
  }

  #moveToNewest(entry: Entry): void {
    if (this.#newest === entry) return;
    this.#unlink(entry);
    this.#linkNewest(entry);
  }

  #linkNewest(entry: Entry): void {
    entry.older = this.#newest;
    entry.newer = null;
    if (this.#newest !== null) this.#newest.newer = entry;
    this.#newest = entry;
    this.#oldest ??= entry;
  }

  #unlink(entry: Entry): void {
    if (entry.newer !== null) entry.newer.older = entry.older;
    else this.#newest = entry.older;
    if (entry.older !== null) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    entry.newer = null;
    entry.older = null;
  }
}
