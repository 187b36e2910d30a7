/**
 * The sidecar's breakers: one per key as the policy's `keyBy` says, created on first use from
 * the snapshot's settings, reconfigured in place on hot reload (state kept), and forced by the
 * policy's `overrides`. Also the read side for health, status and metrics.
 */
import type { BreakerConfig } from '../breaker/breaker-config.ts';
import { BreakerRegistry } from '../breaker/breaker-registry.ts';
import type { BreakerStateKind } from '../breaker/breaker-state.ts';
import type { CircuitBreaker, BreakerStatus } from '../breaker/circuit-breaker.ts';
import type { RandomSource } from '../breaker/open-duration.ts';
import { ENDPOINT_CLASSES, type EndpointClass } from '../policy/schema/vocabulary.ts';
import type { PolicySnapshot, SnapshotOverride } from '../snapshot/snapshot.ts';
import type { Clock } from '../shared/clock.ts';
import { OutageHistory } from '../breaker/outage-history.ts';

/** Endpoint label used when breakers are kept per upstream only. */
export const ALL_ENDPOINTS = 'all';

/** Where a breaker key points. */
export interface CircuitKey {
  readonly upstream: string;
  /** Endpoint class, or `all` with keyBy upstream. */
  readonly endpoint: EndpointClass | typeof ALL_ENDPOINTS;
  /** Model, with keyBy model. */
  readonly model: string | undefined;
}

export interface CircuitView extends CircuitKey {
  readonly status: BreakerStatus;
}

type Override = 'forcedOpen' | 'forcedClosed';

export interface CircuitsOptions {
  readonly clock: Clock;
  readonly random?: RandomSource;
  /** Bound on breakers (keyBy model takes model names from requests). */
  readonly maxKeys?: number;
  readonly onListenerError?: (error: unknown) => void;
}

export class Circuits {
  readonly registry: BreakerRegistry;
  /**
   * The one outage model (src/breaker/outage-history.ts), fed by every transition of every
   * breaker here before any other listener runs: alerts, metrics, health and status read it.
   */
  readonly outages: OutageHistory;
  readonly #clock: Clock;
  #snapshot: PolicySnapshot | undefined;
  /** Overrides in force per key, as last applied. */
  readonly #applied = new Map<string, Override>();
  /** Wall time at which some override starts or stops applying (Infinity: never). */
  #nextOverrideChangeWallMs = Number.POSITIVE_INFINITY;

  constructor(options: CircuitsOptions) {
    this.#clock = options.clock;
    this.outages = new OutageHistory(options.onListenerError);
    this.registry = new BreakerRegistry({
      clock: options.clock,
      ...(options.random === undefined ? {} : { random: options.random }),
      maxKeys: options.maxKeys ?? 2000,
      configFor: (key) => this.#configFor(key),
      ...(options.onListenerError === undefined
        ? {}
        : { onListenerError: options.onListenerError }),
    });
    // Subscribed first, so every later listener of the registry already sees the record.
    this.registry.events.on('stateChange', (e) => {
      this.outages.observe(e);
    });
    this.registry.events.on('evicted', (e) => {
      this.outages.forget(e.key);
    });
  }

  /**
   * Applies a new snapshot: breakers of upstreams that no longer exist, or now have another
   * provider or base URL, are dropped; the others keep their state and take the new settings,
   * and overrides are re-applied.
   */
  configure(snapshot: PolicySnapshot): void {
    const previous = this.#snapshot;
    this.#snapshot = snapshot;
    // An upstream is "the same" while it has the same provider at the same base URL: a name
    // pointed somewhere else is a different service, whose health its old circuit says nothing of.
    const identity = (u: PolicySnapshot['upstreams'][number]) => `${u.provider} ${u.baseURL}`;
    const upstreams = new Map(snapshot.upstreams.map((u) => [u.name, identity(u)]));
    const before = new Map(previous?.upstreams.map((u) => [u.name, identity(u)]));
    const keyByChanged =
      previous !== undefined && previous.breaker.keyBy !== snapshot.breaker.keyBy;
    for (const key of this.registry.keys()) {
      // A new keyBy makes every old key meaningless; a removed or repointed upstream takes its
      // circuits along.
      const { upstream } = parseKey(key);
      const now = upstreams.get(upstream);
      if (
        keyByChanged ||
        now === undefined ||
        (before.has(upstream) && before.get(upstream) !== now)
      ) {
        this.registry.remove(key);
        this.#applied.delete(key);
      }
    }
    this.registry.reconfigure((key) => this.#configFor(key));
    this.#syncOverrides();
  }

  /** Breaker key for a request to `upstream`. */
  keyFor(upstream: string, endpoint: EndpointClass, model: string | undefined): string {
    switch (this.#snapshot?.breaker.keyBy ?? 'endpoint') {
      case 'upstream':
        return upstream;
      case 'endpoint':
        return `${upstream}/${endpoint}`;
      case 'model':
        return `${upstream}/${endpoint}/${model ?? ''}`;
    }
  }

  /** The breaker for a key, created on first use (with any override in force). */
  breaker(key: string): CircuitBreaker {
    if (this.#clock.wallMs() >= this.#nextOverrideChangeWallMs) this.#syncOverrides();
    const existing = this.registry.peek(key);
    if (existing !== undefined) return this.registry.get(key);
    const created = this.registry.get(key);
    this.#syncOverride(key, created);
    return created;
  }

  /** Every breaker with its effective status, for health and status reports. */
  list(): CircuitView[] {
    return this.registry.keys().map((key) => {
      const breaker = this.registry.peek(key);
      return { ...parseKey(key), status: breaker?.getState() ?? emptyStatus(key) };
    });
  }

  /**
   * The effective state of every (upstream, endpoint) label pair of the state gauge, worst over
   * the pair's breakers: every configured upstream with every endpoint class (or `all` with
   * keyBy upstream) from the first policy on, closed while it has no breaker yet. Effective
   * means what `/health` shows: an open circuit whose period is over reads half_open.
   */
  stateSeries(): { upstream: string; endpoint: string; state: BreakerStateKind }[] {
    const snapshot = this.#snapshot;
    if (snapshot === undefined) return [];
    const endpoints: readonly string[] =
      snapshot.breaker.keyBy === 'upstream' ? [ALL_ENDPOINTS] : ENDPOINT_CLASSES;
    const worst = new Map<string, BreakerStateKind>();
    for (const u of snapshot.upstreams) {
      for (const endpoint of endpoints) worst.set(`${u.name}/${endpoint}`, 'closed');
    }
    for (const key of this.registry.keys()) {
      const k = parseKey(key);
      const pair = `${k.upstream}/${k.endpoint}`;
      const current = worst.get(pair);
      const state = this.registry.peek(key)?.getState().state ?? 'closed';
      if (current === undefined || severity(state) > severity(current)) worst.set(pair, state);
    }
    return [...worst].map(([pair, state]) => {
      const slash = pair.indexOf('/');
      return { upstream: pair.slice(0, slash), endpoint: pair.slice(slash + 1), state };
    });
  }

  #configFor(key: string): BreakerConfig {
    const snapshot = this.#snapshot;
    if (snapshot === undefined) throw new Error('Circuits used before the first snapshot');
    const { endpoint } = parseKey(key);
    return endpoint === ALL_ENDPOINTS
      ? snapshot.breaker.base
      : snapshot.breaker.endpoints[endpoint];
  }

  #syncOverrides(): void {
    this.#nextOverrideChangeWallMs = Number.POSITIVE_INFINITY;
    const now = this.#clock.wallMs();
    for (const o of this.#snapshot?.overrides ?? []) {
      if (o.untilWallMs !== null && o.untilWallMs > now) {
        this.#nextOverrideChangeWallMs = Math.min(this.#nextOverrideChangeWallMs, o.untilWallMs);
      }
    }
    for (const key of this.registry.keys()) {
      const breaker = this.registry.peek(key);
      if (breaker !== undefined) this.#syncOverride(key, breaker);
    }
    // Overrides naming an upstream with no breaker yet: create the breakers they force, so a
    // forced-open upstream is refused even before its first request.
    for (const o of this.#activeOverrides()) {
      const endpoints = o.endpoint === null ? ENDPOINT_CLASSES : [o.endpoint];
      for (const endpoint of endpoints) {
        if (this.#snapshot?.breaker.keyBy === 'model') continue; // models are unknown up front
        const key = this.keyFor(o.upstream, endpoint, undefined);
        if (this.registry.peek(key) === undefined) this.#syncOverride(key, this.registry.get(key));
      }
    }
  }

  #activeOverrides(): SnapshotOverride[] {
    const now = this.#clock.wallMs();
    return (this.#snapshot?.overrides ?? []).filter(
      (o) => o.untilWallMs === null || o.untilWallMs > now,
    );
  }

  #syncOverride(key: string, breaker: CircuitBreaker): void {
    const { upstream, endpoint } = parseKey(key);
    const matching = this.#activeOverrides().filter(
      (o) =>
        o.upstream === upstream &&
        (o.endpoint === null || endpoint === ALL_ENDPOINTS || o.endpoint === endpoint),
    );
    // An endpoint-specific override wins over an upstream-wide one.
    const chosen = matching.find((o) => o.endpoint !== null) ?? matching[0];
    const desired = chosen?.state;
    const applied = this.#applied.get(key);
    if (desired === applied) return;
    if (applied !== undefined) breaker.release();
    if (desired === 'forcedOpen') breaker.forceOpen({ reason: chosen?.reason ?? 'spec.overrides' });
    else if (desired === 'forcedClosed') breaker.forceClosed();
    if (desired === undefined) this.#applied.delete(key);
    else this.#applied.set(key, desired);
  }
}

/** Splits a key built by keyFor back into its parts. */
export function parseKey(key: string): CircuitKey {
  const first = key.indexOf('/');
  if (first === -1) return { upstream: key, endpoint: ALL_ENDPOINTS, model: undefined };
  const second = key.indexOf('/', first + 1);
  const endpoint = key.slice(first + 1, second === -1 ? undefined : second) as EndpointClass;
  return {
    upstream: key.slice(0, first),
    endpoint,
    model: second === -1 ? undefined : key.slice(second + 1),
  };
}

function severity(state: BreakerStateKind): number {
  switch (state) {
    case 'open':
    case 'forced_open':
      return 2;
    case 'half_open':
      return 1;
    case 'closed':
    case 'metrics_only':
    case 'disabled':
      return 0;
  }
}

function emptyStatus(key: string): BreakerStatus {
  return {
    key,
    state: 'closed',
    pendingTransition: false,
    epoch: 0,
    attempt: 0,
    openUntilMs: null,
    openRemainingMs: 0,
    consecutive: 0,
    failureThreshold: 0,
    windowCalls: 0,
    windowFailures: 0,
    windowSuccesses: 0,
    windowSlow: 0,
    failureRate: Number.NaN,
    slowCallRate: Number.NaN,
    probesInFlight: 0,
    probeSuccesses: 0,
    probeFailures: 0,
    forced: null,
  };
}
