/**
 * What `kubectl get aicp` and `kubectl describe aicp` show, computed purely from the reconcile
 * verdict and what the policy's sidecars acknowledged and reported: the Accepted, Ready and
 * Degraded conditions, sidecar counts, and per-circuit state with how many sidecars see it open.
 */
import {
  STATUS_UPSTREAMS_MAX_LENGTH,
  type PolicyStatus,
} from '../../policy/policy-status-schema.ts';
import type { CircuitReport, TransitionReport } from '../../snapshot/sidecar-protocol.ts';
import type { SidecarSession } from '../delivery/sidecar-hub.ts';
import { buildCondition, type Condition } from '../kube/status-writer.ts';
import type { PolicyVerdict } from '../reconcile/reconcile.ts';

export type CircuitState = NonNullable<PolicyStatus['circuits']>[number]['state'];

export interface CircuitAggregate {
  readonly upstream: string;
  readonly endpoint: string;
  readonly state: CircuitState;
  readonly openSidecars: number;
  readonly openings: number;
  readonly lastTransitionWallMs: number | null;
  /** The latest opening reported by a sidecar that sees it open: why it opened. */
  readonly trip?: TransitionReport;
  /** The latest closing reported by any sidecar: how it recovered. */
  readonly recovery?: TransitionReport;
}

const SEVERITY: Record<CircuitState, number> = {
  closed: 0,
  forcedClosed: 1,
  halfOpen: 2,
  open: 3,
  forcedOpen: 4,
};

/** One entry per (upstream, endpoint) over the sidecars' reports (models folded together). */
export function aggregateCircuits(sessions: readonly SidecarSession[]): CircuitAggregate[] {
  const byKey = new Map<
    string,
    {
      upstream: string;
      endpoint: string;
      state: CircuitState;
      open: Set<number>;
      openings: number;
      last: number | null;
      trip: TransitionReport | undefined;
      recovery: TransitionReport | undefined;
    }
  >();
  for (const session of sessions) {
    for (const c of session.report?.circuits ?? []) {
      const key = `${c.upstream}/${c.endpoint}`;
      const entry = byKey.get(key) ?? {
        upstream: c.upstream,
        endpoint: c.endpoint,
        state: 'closed' as CircuitState,
        open: new Set<number>(),
        openings: 0,
        last: null,
        trip: undefined,
        recovery: undefined,
      };
      const state = statusState(c.state);
      if (SEVERITY[state] > SEVERITY[entry.state]) entry.state = state;
      const last = session.lastTransitions.get(key);
      if (c.state === 'open' || c.state === 'forced_open') {
        entry.open.add(session.id);
        if (isOpening(last) && last.atWallMs > (entry.trip?.atWallMs ?? -1)) entry.trip = last;
      }
      if (last?.to === 'closed' && last.atWallMs > (entry.recovery?.atWallMs ?? -1))
        entry.recovery = last;
      entry.openings += c.openings;
      if (c.lastTransitionWallMs !== null)
        entry.last = Math.max(entry.last ?? 0, c.lastTransitionWallMs);
      byKey.set(key, entry);
    }
  }
  return [...byKey.values()]
    .map((e) => ({
      upstream: e.upstream,
      endpoint: e.endpoint,
      state: e.state,
      openSidecars: e.open.size,
      openings: e.openings,
      lastTransitionWallMs: e.last,
      ...(e.trip === undefined ? {} : { trip: e.trip }),
      ...(e.recovery === undefined ? {} : { recovery: e.recovery }),
    }))
    .sort((a, b) => `${a.upstream}/${a.endpoint}`.localeCompare(`${b.upstream}/${b.endpoint}`));
}

export interface StatusInput {
  readonly verdict: PolicyVerdict;
  /** Upstream names of the policy in force (current or last good). */
  readonly upstreams: readonly string[];
  /** Sessions of the pods this policy governs. */
  readonly sessions: readonly SidecarSession[];
  /** Hash the governed sidecars should run (current or last good). */
  readonly expectedHash: string | undefined;
  readonly nowWallMs: number;
}

export function computePolicyStatus(input: StatusInput): PolicyStatus {
  const { verdict, sessions, nowWallMs } = input;
  const selected = verdict.pods.length;
  const acknowledged = sessions.filter(
    (s) => s.ackedHash !== undefined && s.ackedHash === input.expectedHash,
  ).length;
  const rejected = sessions.filter(
    (s) => s.rejectedHash !== undefined && s.rejectedHash === input.expectedHash,
  ).length;
  const circuits = aggregateCircuits(sessions);
  const open = circuits.filter((c) => c.openSidecars > 0);
  const generation = verdict.generation;
  const conditions: Condition[] = [
    verdict.accepted
      ? buildCondition(
          {
            type: 'Accepted',
            status: 'True',
            reason: 'Valid',
            message: 'The policy is valid and compiled.',
            observedGeneration: generation,
          },
          nowWallMs,
        )
      : buildCondition(
          {
            type: 'Accepted',
            status: 'False',
            reason: verdict.reason,
            message: `${verdict.message}${verdict.lastGood === undefined ? '' : '\nSidecars keep running the last accepted version.'}`,
            observedGeneration: generation,
          },
          nowWallMs,
        ),
    readyCondition({
      verdict,
      governed: selected,
      connected: sessions.length,
      acknowledged,
      rejected,
      sessions,
      nowWallMs,
    }),
    open.length > 0
      ? buildCondition(
          {
            type: 'Degraded',
            status: 'True',
            reason: 'CircuitOpen',
            message: degradedMessage(open, sessions.length),
            observedGeneration: generation,
          },
          nowWallMs,
        )
      : buildCondition(
          {
            type: 'Degraded',
            status: 'False',
            reason: 'AllCircuitsClosed',
            message: 'No circuit is open.',
            observedGeneration: generation,
          },
          nowWallMs,
        ),
  ];
  return {
    observedGeneration: generation,
    conditions,
    upstreams: upstreamsColumn(input.upstreams),
    openCircuits: open.length,
    sidecars: { selected, connected: sessions.length, acknowledged, rejected },
    circuits: listedCircuits(circuits).map((c) => ({
      upstream: c.upstream,
      endpoint: c.endpoint,
      state: c.state,
      openSidecars: c.openSidecars,
      openings: c.openings,
      ...(c.lastTransitionWallMs === null
        ? {}
        : {
            lastTransitionTime: new Date(c.lastTransitionWallMs)
              .toISOString()
              .replace(/\.\d{3}Z$/, 'Z'),
          }),
    })),
    ...(verdict.overlapping.length === 0 ? {} : { overlappingPolicies: [...verdict.overlapping] }),
  };
}

interface ReadyInput {
  readonly verdict: PolicyVerdict;
  /** Pods this policy governs (selects and is the oldest to select). */
  readonly governed: number;
  readonly connected: number;
  readonly acknowledged: number;
  readonly rejected: number;
  readonly sessions: readonly SidecarSession[];
  readonly nowWallMs: number;
}

/**
 * Ready means the policy is in force as written: accepted, not shadowed by an older policy on
 * any pod it selects, and run by every sidecar it governs. Each way of falling short has its
 * own reason, checked in the order an operator should fix them.
 */
function readyCondition(input: ReadyInput): Condition {
  const { verdict, governed, acknowledged, rejected, nowWallMs } = input;
  const observedGeneration = verdict.generation;
  const condition = (status: 'True' | 'False', reason: string, message: string) =>
    buildCondition({ type: 'Ready', status, reason, message, observedGeneration }, nowWallMs);
  if (rejected > 0) {
    const problems =
      input.sessions
        .find((s) => s.problems.length > 0)
        ?.problems.slice(0, 3)
        .join('; ') ?? '';
    return condition('False', 'Rejected', `${rejected} sidecars rejected the policy: ${problems}`);
  }
  if (!verdict.accepted) {
    return condition(
      'False',
      'NotAccepted',
      verdict.lastGood === undefined
        ? 'The policy is not accepted (see the Accepted condition); no sidecar runs it.'
        : `The policy is not accepted (see the Accepted condition); ${acknowledged} of ${governed} governed sidecars run its last accepted version.`,
    );
  }
  if (verdict.shadowedBy.length > 0) {
    const shadowed = verdict.selected - governed;
    return condition(
      'False',
      'Shadowed',
      `${shadowed} of the ${verdict.selected} pods it selects are governed by the older ${plural(verdict.shadowedBy.length, 'policy', 'policies')} ${verdict.shadowedBy.join(', ')} (the oldest policy that selects a pod governs it).`,
    );
  }
  if (governed === 0) return condition('True', 'NoSidecars', 'No pod with a sidecar is selected.');
  if (acknowledged >= governed) {
    return condition('True', 'AllAcknowledged', `All ${governed} sidecars run this version.`);
  }
  return condition(
    'False',
    'Propagating',
    `${acknowledged} of ${governed} selected sidecars run the current version (${input.connected} connected).`,
  );
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

function isOpening(t: TransitionReport | undefined): t is TransitionReport {
  return t !== undefined && (t.to === 'open' || t.to === 'forced_open');
}

function statusState(state: CircuitReport['state']): CircuitState {
  switch (state) {
    case 'open':
      return 'open';
    case 'half_open':
      return 'halfOpen';
    case 'forced_open':
      return 'forcedOpen';
    case 'metrics_only':
      return 'forcedClosed';
    case 'closed':
    case 'disabled':
      return 'closed';
  }
}

/** The schema's bound on `status.circuits`. */
export const STATUS_CIRCUITS_MAX = 256;
/** Open circuits the Degraded message names; the rest are counted (`openCircuits` has them all). */
export const DEGRADED_MESSAGE_MAX_NAMED = 20;

/**
 * The circuits `status.circuits` lists, by name. Past the schema's bound the worst states are kept
 * first: a fleet-wide outage of many upstreams is when the list overflows, and cutting by name
 * alone would hide open circuits behind closed ones.
 */
export function listedCircuits(
  circuits: readonly CircuitAggregate[],
  max = STATUS_CIRCUITS_MAX,
): CircuitAggregate[] {
  if (circuits.length <= max) return [...circuits];
  const worstFirst = circuits
    .map((c, index) => ({ c, index }))
    .sort((a, b) => SEVERITY[b.c.state] - SEVERITY[a.c.state] || a.index - b.index)
    .slice(0, max);
  // Back to name order (the input's), which `kubectl get -o yaml` readers expect.
  return worstFirst.sort((a, b) => a.index - b.index).map((x) => x.c);
}

/**
 * The Degraded condition's message: the first open circuits by name, then how many more. A
 * message over the schema's 32768 characters would fail the whole status write, and hundreds of
 * upstreams times endpoint classes can be open at once.
 */
export function degradedMessage(
  open: readonly CircuitAggregate[],
  sidecars: number,
  maxNamed = DEGRADED_MESSAGE_MAX_NAMED,
): string {
  const named = open
    .slice(0, maxNamed)
    .map((c) => `${c.upstream}/${c.endpoint} open in ${c.openSidecars} of ${sidecars} sidecars`)
    .join('; ');
  return open.length > maxNamed ? `${named}; and ${open.length - maxNamed} more` : named;
}

/**
 * The comma-separated names for status.upstreams (the UPSTREAMS column). The schema bounds the
 * field, and a write over the bound fails as a whole (256 names of 63 characters are 16 KB), so
 * a long list keeps the names that fit and ends with how many were left out.
 */
export function upstreamsColumn(
  names: readonly string[],
  maxLength = STATUS_UPSTREAMS_MAX_LENGTH,
): string {
  const all = names.join(',');
  if (all.length <= maxLength) return all;
  let shown = '';
  for (let i = 0; i < names.length; i++) {
    const next = shown === '' ? (names[i] ?? '') : `${shown},${names[i] ?? ''}`;
    // The suffix must still fit after this name, whatever number it ends up carrying.
    if (next.length + `,… +${names.length}`.length > maxLength) {
      return `${shown},… +${names.length - i}`;
    }
    shown = next;
  }
  return shown;
}
