/**
 * Announces policy-level circuit transitions: one Kubernetes Event on the policy and one alert
 * to the policy's receivers per transition. The diff (circuit-transitions.ts) decides what
 * happened; this only says it, so the two are tested apart.
 */
import type { PolicyAlerts } from '../alerting/policy-alerts.ts';
import type { EventRecord, EventRecorder, EventSubject } from '../kube/event-recorder.ts';
import type { CircuitTransition } from './circuit-transitions.ts';

export interface TransitionWriterOptions {
  readonly events: Pick<EventRecorder, 'record'>;
  readonly alerts: Pick<PolicyAlerts, 'send'>;
}

export class TransitionWriter {
  readonly #o: TransitionWriterOptions;

  constructor(options: TransitionWriterOptions) {
    this.#o = options;
  }

  write(subject: EventSubject, transitions: readonly CircuitTransition[]): void {
    for (const t of transitions) {
      const event = eventOf(t);
      if (event !== undefined) this.#o.events.record(subject, event);
      this.#o.alerts.send(t);
    }
  }
}

/** The Event of a transition; transitions without one (none yet) are alerts only. */
export function eventOf(t: CircuitTransition): EventRecord | undefined {
  const id = `${t.upstream}/${t.endpoint}`;
  switch (t.event) {
    case 'opened':
      return {
        type: 'Warning',
        reason: 'CircuitOpened',
        message: `Circuit ${id} opened in ${t.counts.openSidecars ?? 0} of ${t.counts.sidecars ?? 0} sidecars: ${tripDetail(t)}`,
      };
    case 'closed':
      return {
        type: 'Normal',
        reason: 'CircuitClosed',
        message: `Circuit ${id} closed in every sidecar`,
      };
    case 'halfOpen':
    case 'allTargetsOpen':
      return undefined;
  }
}

/** "consecutive_failures (5 consecutive failures; 5 of 6 calls in the window failed)". */
function tripDetail(t: CircuitTransition): string {
  const { consecutiveFailures, windowFailures, windowCalls } = t.counts;
  const numbers = [
    ...(consecutiveFailures === undefined ? [] : [`${consecutiveFailures} consecutive failures`]),
    ...(windowFailures === undefined || windowCalls === undefined
      ? []
      : [`${windowFailures} of ${windowCalls} calls in the window failed`]),
  ];
  return numbers.length === 0 ? t.reason : `${t.reason} (${numbers.join('; ')})`;
}
