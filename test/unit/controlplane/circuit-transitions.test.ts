import { describe, expect, it } from 'vitest';
import { diffCircuits } from '../../../src/controlplane/status/circuit-transitions.ts';
import type { CircuitAggregate } from '../../../src/controlplane/status/policy-status.ts';
import { eventOf } from '../../../src/controlplane/status/transition-writer.ts';

const policy = { namespace: 'shop', name: 'egress' };
const circuit = (openSidecars: number): CircuitAggregate => ({
  upstream: 'openai',
  endpoint: 'chat',
  state: openSidecars > 0 ? 'open' : 'closed',
  openSidecars,
  openings: openSidecars,
  lastTransitionWallMs: null,
  ...(openSidecars > 0
    ? {
        trip: {
          key: 'openai/chat',
          from: 'closed',
          to: 'open',
          reason: 'consecutive_failures',
          openForMs: 30_000,
          atWallMs: 900,
          counts: { consecutiveFailures: 5, windowFailures: 5, windowCalls: 6 },
        },
      }
    : {
        recovery: {
          key: 'openai/chat',
          from: 'half_open',
          to: 'closed',
          reason: 'probe_success',
          openForMs: null,
          atWallMs: 60_900,
        },
      }),
});

describe('policy-level circuit transitions', () => {
  it('announces nothing on the first look (a new leader takes the picture as it is)', () => {
    const first = diffCircuits({
      policy,
      previous: undefined,
      circuits: [circuit(2)],
      sidecars: 3,
      nowWallMs: 1000,
    });
    expect(first.transitions).toEqual([]);
    expect(first.next.get('openai/chat')).toEqual({ open: true, sinceWallMs: 1000 });
  });

  it('opens once in the first sidecar and closes once in the last, with the outage length', () => {
    let previous = diffCircuits({
      policy,
      previous: undefined,
      circuits: [circuit(0)],
      sidecars: 3,
      nowWallMs: 0,
    }).next;
    const opened = diffCircuits({
      policy,
      previous,
      circuits: [circuit(1)],
      sidecars: 3,
      nowWallMs: 1000,
    });
    // Why it opened, with the tripping sidecar's counts, as the runbook promises.
    expect(opened.transitions).toEqual([
      expect.objectContaining({
        event: 'opened',
        reason: 'consecutive_failures',
        counts: {
          consecutiveFailures: 5,
          windowFailures: 5,
          windowCalls: 6,
          sidecars: 3,
          openSidecars: 1,
        },
        openForMs: 30_000,
        retryAtWallMs: 30_900,
      }),
    ]);
    previous = opened.next;
    const more = diffCircuits({
      policy,
      previous,
      circuits: [circuit(3)],
      sidecars: 3,
      nowWallMs: 2000,
    });
    expect(more.transitions).toEqual([]);
    previous = more.next;
    const closed = diffCircuits({
      policy,
      previous,
      circuits: [circuit(0)],
      sidecars: 3,
      nowWallMs: 61_000,
    });
    expect(closed.transitions).toEqual([
      expect.objectContaining({
        event: 'closed',
        reason: 'probe_success',
        fromState: 'half_open',
        outageDurationMs: 60_000,
        atWallMs: 61_000,
      }),
    ]);
    const [openedTransition] = opened.transitions;
    const [closedTransition] = closed.transitions;
    if (openedTransition === undefined || closedTransition === undefined)
      throw new Error('missing');
    expect(eventOf(openedTransition)).toEqual({
      type: 'Warning',
      reason: 'CircuitOpened',
      message:
        'Circuit openai/chat opened in 1 of 3 sidecars: consecutive_failures (5 consecutive failures; 5 of 6 calls in the window failed)',
    });
    expect(eventOf(closedTransition)?.reason).toBe('CircuitClosed');
  });

  it('turns reported moments into one halfOpen and one allTargetsOpen per circuit and look, between opening and closing', () => {
    const previous = diffCircuits({
      policy,
      previous: undefined,
      circuits: [circuit(0)],
      sidecars: 2,
      nowWallMs: 0,
    }).next;
    const probe = (atWallMs: number) =>
      ({
        kind: 'halfOpen',
        upstream: 'openai',
        endpoint: 'chat',
        reason: 'recovery_timeout',
        openForMs: 30_000,
        atWallMs,
      }) as const;
    const refused = (requests: number, attempts: string) =>
      ({
        kind: 'allTargetsOpen',
        upstream: 'openai',
        endpoint: 'chat',
        requests,
        attempts,
        atWallMs: 500,
      }) as const;
    // Within one look the circuit opened, both sidecars probed, requests were refused, and the
    // last sidecar closed it again: four alerts in the order they happened, not six.
    const diff = diffCircuits({
      policy,
      previous,
      circuits: [{ ...circuit(1), openSidecars: 1 }],
      sidecars: 2,
      moments: [
        refused(3, 'openai:open,backup:open'),
        probe(700),
        probe(800),
        refused(2, 'openai:open,backup:failed'),
      ],
      nowWallMs: 1000,
    });
    expect(diff.transitions.map((t) => t.event)).toEqual(['opened', 'allTargetsOpen', 'halfOpen']);
    expect(diff.transitions[1]).toMatchObject({
      fromState: 'open',
      toState: 'open',
      reason: 'all_targets_open',
      note: 'openai:open,backup:failed',
      counts: { sidecars: 2, openSidecars: 1, refusedRequests: 5 },
    });
    expect(diff.transitions[2]).toMatchObject({
      fromState: 'open',
      toState: 'half_open',
      reason: 'recovery_timeout',
      openForMs: 30_000,
      atWallMs: 1000,
    });
    const closed = diffCircuits({
      policy,
      previous: diff.next,
      circuits: [circuit(0)],
      sidecars: 2,
      moments: [probe(1500)],
      nowWallMs: 2000,
    });
    expect(closed.transitions.map((t) => t.event)).toEqual(['halfOpen', 'closed']);
    // Alerts only: the Events stay CircuitOpened and CircuitClosed.
    expect(closed.transitions[0] && eventOf(closed.transitions[0])).toBeUndefined();
  });
});
