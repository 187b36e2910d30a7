/**
 * The leader's status pass: for every policy, the status computed from the last reconcile and
 * what its sidecars acknowledged and reported, written through the status subresource; then the
 * policy-level circuit transitions since the previous pass, announced as Events and alerts.
 * Passes are debounced (sidecar reports arrive in bursts) and run only while leading.
 */
import type { Clock } from '../../shared/clock.ts';
import type { Report } from '../../snapshot/sidecar-protocol.ts';
import type { SidecarHub, SidecarSession } from '../delivery/sidecar-hub.ts';
import { policySubject, type EventRecorder } from '../kube/event-recorder.ts';
import type { PolicyObject } from '../kube/resources.ts';
import type { StatusWriter } from '../kube/status-writer.ts';
import type { ReconcileResult } from '../reconcile/reconcile.ts';
import { diffCircuits, type FleetMoment, type PolicyCircuits } from './circuit-transitions.ts';
import { policyEvents, policyMarks, type PolicyMarks } from './policy-events.ts';
import { aggregateCircuits, computePolicyStatus } from './policy-status.ts';
import type { TransitionWriter } from './transition-writer.ts';

/** Most moments kept per policy between two passes. */
const MAX_MOMENTS = 1000;

export interface StatusPublisherOptions {
  readonly clock: Clock;
  readonly hub: SidecarHub;
  /** The last reconcile's result, if any. */
  readonly result: () => ReconcileResult | undefined;
  /** The policy object as the informer has it (its current status is the write baseline). */
  readonly policy: (namespace: string, name: string) => PolicyObject | undefined;
  /** False while a namespace's Secrets are not listed yet: "not found" would be a guess. */
  readonly secretsSynced: (namespace: string) => boolean;
  readonly statusWriter: Pick<StatusWriter, 'write'>;
  readonly transitions: TransitionWriter;
  readonly events: Pick<EventRecorder, 'record'>;
  readonly isLeader: () => boolean;
  /** Debounce of passes. Default 200 ms. */
  readonly debounceMs?: number;
}

export class StatusPublisher {
  readonly #o: StatusPublisherOptions;
  /** The fleet circuit picture per policy key, as of the previous pass. */
  readonly #pictures = new Map<string, PolicyCircuits>();
  /**
   * What was last announced about each policy itself; before the first pass of this leader, the
   * status on the object (written by a previous leader) stands in, so nothing is said twice.
   */
  readonly #marks = new Map<string, PolicyMarks>();
  /** Moments reported since the previous pass, per policy key (bounded by MAX_MOMENTS). */
  readonly #moments = new Map<string, FleetMoment[]>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: StatusPublisherOptions) {
    this.#o = options;
  }

  /** Schedules a pass (one per debounce window, however many calls). */
  schedule(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.publish();
    }, this.#o.debounceMs ?? 200);
  }

  /**
   * Keeps what a sidecar's report says happened (not what is): probes let through and requests
   * that found every target open, for the policy's halfOpen and allTargetsOpen alerts.
   */
  noteReport(session: SidecarSession, report: Report): void {
    const policy = this.#o.result()?.pods.get(session.pod)?.policy;
    if (policy === undefined) return;
    const circuitOf = new Map(report.circuits.map((c) => [c.key, c]));
    const moments = this.#moments.get(policy) ?? [];
    for (const t of report.transitions) {
      if (t.to !== 'half_open') continue;
      const c = circuitOf.get(t.key);
      const [upstream = t.key, endpoint = 'all'] = t.key.split('/');
      moments.push({
        kind: 'halfOpen',
        upstream: c?.upstream ?? upstream,
        endpoint: c?.endpoint ?? endpoint,
        reason: t.reason,
        openForMs: t.openForMs,
        atWallMs: t.atWallMs,
      });
    }
    for (const a of report.allTargetsOpen ?? []) moments.push({ kind: 'allTargetsOpen', ...a });
    // A pass drains them within the debounce; the bound only matters if passes stall.
    this.#moments.set(policy, moments.slice(-MAX_MOMENTS));
  }

  /** A new leader takes the circuit picture as it is, without alerting for what came before. */
  resetPictures(): void {
    this.#pictures.clear();
    this.#marks.clear();
    this.#moments.clear();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** One pass now (the debounced timer calls it). */
  publish(): void {
    const result = this.#o.result();
    if (result === undefined || !this.#o.isLeader()) return;
    const now = this.#o.clock.wallMs();
    const sessionsByPolicy = new Map<string, SidecarSession[]>();
    for (const session of this.#o.hub.sessions()) {
      const policy = result.pods.get(session.pod)?.policy;
      if (policy === undefined) continue;
      const list = sessionsByPolicy.get(policy) ?? [];
      list.push(session);
      sessionsByPolicy.set(policy, list);
    }
    for (const [key, verdict] of result.policies) {
      const [namespace = '', name = ''] = key.split('/');
      const object = this.#o.policy(namespace, name);
      if (object === undefined) continue;
      if (!this.#o.secretsSynced(namespace)) continue;
      const snapshot = verdict.accepted ? verdict.snapshot : verdict.lastGood;
      const sessions = sessionsByPolicy.get(key) ?? [];
      const status = computePolicyStatus({
        verdict,
        // What the sidecars run; for a policy never accepted, what its spec names.
        upstreams:
          snapshot?.upstreams.map((u) => u.name) ?? (verdict.accepted ? [] : verdict.upstreams),
        sessions,
        expectedHash: snapshot?.hash,
        nowWallMs: now,
      });
      void this.#o.statusWriter.write({ namespace, name }, status, object.status);
      const subject = policySubject(object);
      for (const event of policyEvents(this.#marks.get(key) ?? policyMarks(object.status), status))
        this.#o.events.record(subject, event);
      this.#marks.set(key, policyMarks(status));
      const diff = diffCircuits({
        policy: { namespace, name },
        previous: this.#pictures.get(key),
        circuits: aggregateCircuits(sessions),
        sidecars: sessions.length,
        moments: this.#moments.get(key) ?? [],
        nowWallMs: now,
      });
      this.#moments.delete(key);
      this.#pictures.set(key, diff.next);
      this.#o.transitions.write(subject, diff.transitions);
    }
    for (const key of this.#pictures.keys()) {
      if (!result.policies.has(key)) this.#pictures.delete(key);
    }
    for (const key of this.#marks.keys()) {
      if (!result.policies.has(key)) this.#marks.delete(key);
    }
    for (const key of this.#moments.keys()) {
      if (!result.policies.has(key)) this.#moments.delete(key);
    }
  }
}
