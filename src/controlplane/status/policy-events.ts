/**
 * Warning Events about a policy itself, as a pure function of its status before and after a
 * pass: `PolicyRejected` when it stops being accepted (or is rejected for a new reason or a new
 * generation), `PolicyShadowed` when an older policy starts governing pods it selects. Comparing
 * with the status a previous leader wrote keeps a failover from announcing them again.
 */
import type { PolicyStatus } from '../../policy/policy-status-schema.ts';
import type { EventRecord } from '../kube/event-recorder.ts';

/** What a status says that an Event is about; equal marks mean nothing new to announce. */
export interface PolicyMarks {
  /** `reason@generation` while not accepted, else empty. */
  readonly rejection: string;
  /** The Shadowed message while shadowed, else empty. */
  readonly shadowing: string;
}

export function policyMarks(status: PolicyStatus | undefined): PolicyMarks {
  const accepted = status?.conditions?.find((c) => c.type === 'Accepted');
  const ready = status?.conditions?.find((c) => c.type === 'Ready');
  return {
    rejection:
      accepted?.status === 'False'
        ? `${accepted.reason}@${accepted.observedGeneration ?? status?.observedGeneration ?? 0}`
        : '',
    shadowing: ready?.reason === 'Shadowed' ? ready.message : '',
  };
}

/** The Events to record for going from `previous` to `next`. */
export function policyEvents(previous: PolicyMarks, next: PolicyStatus): EventRecord[] {
  const marks = policyMarks(next);
  const events: EventRecord[] = [];
  if (marks.rejection !== '' && marks.rejection !== previous.rejection) {
    const accepted = next.conditions?.find((c) => c.type === 'Accepted');
    events.push({
      type: 'Warning',
      reason: 'PolicyRejected',
      message: `${accepted?.reason ?? 'Invalid'}: ${accepted?.message ?? ''}`,
    });
  }
  if (marks.shadowing !== '' && marks.shadowing !== previous.shadowing) {
    events.push({ type: 'Warning', reason: 'PolicyShadowed', message: marks.shadowing });
  }
  return events;
}
