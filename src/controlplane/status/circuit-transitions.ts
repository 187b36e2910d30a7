/**
 * What changed for a policy's circuits between two looks at its sidecars, as a pure function:
 * the fleet picture before, the sidecars' reports now, the policy-level transitions out. A
 * circuit is open for the policy while it is open in at least one sidecar, so it opens once
 * (in the first sidecar) and closes once (in the last one), however many pods run the policy.
 * Moments that are not states (a sidecar starting to probe, requests finding every target open)
 * come as reported since the previous look and give at most one transition per circuit and look;
 * the policy's alert dispatcher then deduplicates them over its window as a single sidecar's
 * would, so a fleet alerts like one sidecar. The transition writer turns the result into Events
 * and alerts.
 */
import type { AlertCounts, AlertEventKind } from '../../alerts/index.ts';
import type { CircuitAggregate } from './policy-status.ts';

/** One circuit of a policy as last seen: open somewhere or not, and since when. */
export interface CircuitPicture {
  readonly open: boolean;
  readonly sinceWallMs: number;
}

/** The fleet picture of one policy, by `upstream/endpoint`. */
export type PolicyCircuits = ReadonlyMap<string, CircuitPicture>;

/** A policy-level transition, everything an Event and an alert say about it. */
export interface CircuitTransition {
  readonly event: AlertEventKind;
  readonly policy: { readonly namespace: string; readonly name: string };
  readonly upstream: string;
  readonly endpoint: string;
  readonly fromState: string;
  readonly toState: string;
  /** Machine reason, as in the alert payload. */
  readonly reason: string;
  readonly counts: AlertCounts;
  /** For `closed`: how long the circuit was open somewhere in the fleet. */
  readonly outageDurationMs?: number;
  /**
   * For `opened`: the open period the tripping sidecar chose, and when it may probe again; for
   * `halfOpen`: the open period that just ended.
   */
  readonly openForMs?: number;
  readonly retryAtWallMs?: number;
  /** For `allTargetsOpen`: the chain the last refused request tried. */
  readonly note?: string;
  /** Wall time of the transition. */
  readonly atWallMs: number;
}

/**
 * Something a sidecar reported that is a moment, not a state: it let a probe through
 * (`halfOpen`, from a transition into half_open), or refused requests because every target of
 * their chain was open (`allTargetsOpen`).
 */
export type FleetMoment =
  | {
      readonly kind: 'halfOpen';
      readonly upstream: string;
      readonly endpoint: string;
      readonly reason: string;
      /** The open period that ended, when the sidecar said. */
      readonly openForMs: number | null;
      readonly atWallMs: number;
    }
  | {
      readonly kind: 'allTargetsOpen';
      readonly upstream: string;
      readonly endpoint: string;
      /** Requests refused that way (summed over the sidecars' reports). */
      readonly requests: number;
      readonly attempts: string;
      readonly atWallMs: number;
    };

/** The reason of a transition no sidecar explained. */
export const UNKNOWN_REASON = 'unknown';

export interface CircuitDiffInput {
  readonly policy: { readonly namespace: string; readonly name: string };
  /** The picture of the previous look; undefined right after this replica started leading. */
  readonly previous: PolicyCircuits | undefined;
  readonly circuits: readonly CircuitAggregate[];
  /** Sidecars of the policy that are connected. */
  readonly sidecars: number;
  /** Moments reported since the previous look, oldest first. */
  readonly moments?: readonly FleetMoment[];
  readonly nowWallMs: number;
}

export interface CircuitDiff {
  readonly next: PolicyCircuits;
  readonly transitions: readonly CircuitTransition[];
}

/**
 * Compares the picture with the reports. Without a previous picture (a new leader) the current
 * state is taken as it is: nothing that happened before this replica led is announced again.
 */
export function diffCircuits(input: CircuitDiffInput): CircuitDiff {
  const { previous, nowWallMs } = input;
  const next = new Map<string, CircuitPicture>();
  // Openings first and closings last, so a circuit that opened, probed and closed between two
  // looks is announced in that order.
  const transitions: CircuitTransition[] = [];
  const closings: CircuitTransition[] = [];
  const openSidecars = new Map<string, number>();
  for (const c of input.circuits) openSidecars.set(`${c.upstream}/${c.endpoint}`, c.openSidecars);
  for (const c of input.circuits) {
    const id = `${c.upstream}/${c.endpoint}`;
    const open = c.openSidecars > 0;
    const before = previous?.get(id);
    next.set(id, { open, sinceWallMs: before?.open === open ? before.sinceWallMs : nowWallMs });
    if (previous === undefined || (before?.open ?? false) === open) continue;
    const common = {
      policy: input.policy,
      upstream: c.upstream,
      endpoint: c.endpoint,
      atWallMs: nowWallMs,
    };
    if (open) {
      // Why it opened comes from the sidecar that tripped it (its report); older sidecars do
      // not send counts, and a sidecar's transitions can be lost with a report: then unknown.
      const trip = c.trip;
      transitions.push({
        ...common,
        event: 'opened',
        fromState: trip?.from ?? 'closed',
        toState: trip?.to ?? 'open',
        reason: trip?.reason ?? UNKNOWN_REASON,
        counts: { ...trip?.counts, sidecars: input.sidecars, openSidecars: c.openSidecars },
        ...(trip?.openForMs === null || trip?.openForMs === undefined
          ? {}
          : { openForMs: trip.openForMs, retryAtWallMs: trip.atWallMs + trip.openForMs }),
      });
    } else {
      closings.push({
        ...common,
        event: 'closed',
        fromState: c.recovery?.from ?? 'open',
        toState: 'closed',
        reason: c.recovery?.reason ?? UNKNOWN_REASON,
        counts: { sidecars: input.sidecars, openSidecars: 0 },
        ...(before === undefined ? {} : { outageDurationMs: nowWallMs - before.sinceWallMs }),
      });
    }
  }
  transitions.push(...momentTransitions(input, openSidecars), ...closings);
  return { next, transitions };
}

/** The last moment of each kind per circuit, as one transition (requests summed). */
function momentTransitions(
  input: CircuitDiffInput,
  openSidecars: ReadonlyMap<string, number>,
): CircuitTransition[] {
  const last = new Map<string, { moment: FleetMoment; requests: number }>();
  for (const m of input.moments ?? []) {
    const id = `${m.kind}\u0000${m.upstream}/${m.endpoint}`;
    const requests = (last.get(id)?.requests ?? 0) + (m.kind === 'allTargetsOpen' ? m.requests : 0);
    last.set(id, { moment: m, requests });
  }
  return [...last.values()].map(({ moment: m, requests }) => {
    const counts = {
      sidecars: input.sidecars,
      openSidecars: openSidecars.get(`${m.upstream}/${m.endpoint}`) ?? 0,
    };
    const common = {
      policy: input.policy,
      upstream: m.upstream,
      endpoint: m.endpoint,
      atWallMs: input.nowWallMs,
    };
    if (m.kind === 'halfOpen')
      return {
        ...common,
        event: 'halfOpen',
        fromState: 'open',
        toState: 'half_open',
        reason: m.reason,
        counts,
        ...(m.openForMs === null ? {} : { openForMs: m.openForMs }),
      };
    return {
      ...common,
      event: 'allTargetsOpen',
      fromState: 'open',
      toState: 'open',
      reason: 'all_targets_open',
      counts: { ...counts, refusedRequests: requests },
      note: m.attempts,
    };
  });
}
