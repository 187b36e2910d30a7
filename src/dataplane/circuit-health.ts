/**
 * The health view of the circuits, served at GET /health/circuit-breakers and read by
 * `aicb status`: per upstream the worst state of its circuits, an overall verdict, and per
 * endpoint detail. Never contains credentials.
 */
import type { BreakerStateKind } from '../breaker/breaker-state.ts';
import type { PolicySnapshot } from '../snapshot/snapshot.ts';
import type { Circuits } from './circuits.ts';

export type HealthState =
  'closed' | 'open' | 'half_open' | 'forced_open' | 'forced_closed' | 'disabled';
export type OverallHealth = 'healthy' | 'degraded' | 'critical';

export interface CircuitDetail {
  readonly state: HealthState;
  readonly model?: string;
  readonly consecutiveFailures: number;
  readonly failureThreshold: number;
  readonly windowCalls: number;
  readonly windowFailures: number;
  /** 0..1, null below the failure-rate minimum. */
  readonly failureRate: number | null;
  readonly openRemainingMs: number;
  readonly attempt: number;
  /** When the current or last outage began (ISO 8601), null if never. */
  readonly lastOpenedAt: string | null;
  /** When the last outage ended (ISO 8601), null if never. */
  readonly lastRecoveredAt: string | null;
}

export interface CircuitHealthReport {
  readonly policy: {
    readonly name: string;
    readonly namespace: string;
    readonly hash: string;
    /**
     * `enforcing`, or `pass-through` when no policy governs the pod any more (name and
     * namespace are then the former policy's): requests go through unchanged.
     */
    readonly mode: 'enforcing' | 'pass-through';
    /** When the sidecar was released to pass-through (ISO 8601), null while enforcing. */
    readonly passThroughSince: string | null;
  } | null;
  readonly providers: Record<string, HealthState>;
  readonly overall_health: OverallHealth;
  readonly endpoints: Record<string, Record<string, CircuitDetail[]>>;
}

export function circuitHealth(
  snapshot: PolicySnapshot | undefined,
  circuits: Circuits,
): CircuitHealthReport {
  const providers: Record<string, HealthState> = {};
  const endpoints: Record<string, Record<string, CircuitDetail[]>> = {};
  for (const u of snapshot?.upstreams ?? []) {
    providers[u.name] = 'closed';
    endpoints[u.name] = {};
  }
  for (const view of circuits.list()) {
    if (!(view.upstream in providers)) continue;
    const state = healthState(view.status.state);
    const current = providers[view.upstream] ?? 'closed';
    if (rank(state) > rank(current)) providers[view.upstream] = state;
    const byEndpoint = (endpoints[view.upstream] ??= {});
    (byEndpoint[view.endpoint] ??= []).push({
      state,
      ...(view.model === undefined ? {} : { model: view.model }),
      consecutiveFailures: view.status.consecutive,
      failureThreshold: view.status.failureThreshold,
      windowCalls: view.status.windowCalls,
      windowFailures: view.status.windowFailures,
      failureRate: Number.isNaN(view.status.failureRate) ? null : view.status.failureRate,
      openRemainingMs: Math.round(view.status.openRemainingMs),
      attempt: view.status.attempt,
      lastOpenedAt: iso(circuits.outages.get(view.status.key).lastOpenedAtWallMs),
      lastRecoveredAt: iso(circuits.outages.get(view.status.key).lastRecoveredAtWallMs),
    });
  }
  const states = Object.values(providers);
  const down = states.filter((s) => s === 'open' || s === 'forced_open').length;
  const overall: OverallHealth =
    states.length > 0 && down === states.length
      ? 'critical'
      : states.some((s) => s !== 'closed' && s !== 'forced_closed' && s !== 'disabled')
        ? 'degraded'
        : 'healthy';
  return {
    policy:
      snapshot === undefined
        ? null
        : {
            name: snapshot.passThrough?.formerPolicy.name ?? snapshot.policy.name,
            namespace: snapshot.passThrough?.formerPolicy.namespace ?? snapshot.policy.namespace,
            hash: snapshot.hash,
            mode: snapshot.passThrough === undefined ? 'enforcing' : 'pass-through',
            passThroughSince: iso(snapshot.passThrough?.sinceWallMs ?? null),
          },
    providers,
    overall_health: overall,
    endpoints,
  };
}

function iso(wallMs: number | null): string | null {
  return wallMs === null ? null : new Date(wallMs).toISOString();
}

function healthState(state: BreakerStateKind): HealthState {
  return state === 'metrics_only' ? 'forced_closed' : state;
}

function rank(state: HealthState): number {
  switch (state) {
    case 'open':
    case 'forced_open':
      return 3;
    case 'half_open':
      return 2;
    case 'forced_closed':
    case 'disabled':
      return 1;
    case 'closed':
      return 0;
  }
}
