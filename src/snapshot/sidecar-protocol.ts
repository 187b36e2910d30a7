/**
 * The wire contract between the controller and its sidecars, versioned with the snapshot.
 *
 * Controller → sidecar: one long-lived server-sent-events stream (GET /v1/stream) carrying
 * `snapshot` events (the compiled policy for this pod), `fleet` events (shared fleet mode: a
 * circuit another sidecar opened), `release` events (no policy governs this pod any more; the
 * sidecar turns into a pass-through) and heartbeats. A sidecar ignores event names it does not
 * know, so new ones can be added without a new schema version. Sidecar → controller: short POSTs
 * acknowledging or rejecting each snapshot (/v1/ack) and reporting circuit state (/v1/report).
 * Both sides validate what they receive against these schemas.
 */
import { z } from 'zod';
import { PolicySnapshotSchema, SNAPSHOT_SCHEMA_VERSION } from './snapshot.ts';

export const PROTOCOL_PATHS = {
  stream: '/v1/stream',
  ack: '/v1/ack',
  report: '/v1/report',
} as const;

/** The event names of the controller → sidecar stream; a sidecar ignores names it does not know. */
export const STREAM_EVENTS = {
  /** The compiled policy for this pod (SnapshotMessage). */
  snapshot: 'snapshot',
  /** Shared fleet mode: a circuit another sidecar opened (FleetMessage). */
  fleet: 'fleet',
  /** No policy governs this pod any more; pass requests through (ReleaseMessage). */
  release: 'release',
} as const;

export type StreamEventName = (typeof STREAM_EVENTS)[keyof typeof STREAM_EVENTS];

/** The message each stream event carries as its JSON data. */
export interface StreamMessages {
  readonly snapshot: SnapshotMessage;
  readonly fleet: FleetMessage;
  readonly release: ReleaseMessage;
}

/** A comment line the controller sends so the sidecar can tell a live but quiet stream. */
export const STREAM_HEARTBEAT = ': heartbeat\n\n';

/** One server-sent event of the stream, as the controller writes it. */
export function encodeStreamEvent<K extends StreamEventName>(
  name: K,
  message: StreamMessages[K],
): string {
  return `event: ${name}\ndata: ${JSON.stringify(message)}\n\n`;
}

/** Header a sidecar sends with the snapshot schema version it runs, so skew is refused early. */
export const SCHEMA_VERSION_HEADER = 'x-aicb-snapshot-schema';

export const SnapshotMessageSchema = z.strictObject({
  snapshot: PolicySnapshotSchema,
  /** Wall time the controller saw the change that produced this snapshot (propagation metric). */
  changedAtWallMs: z.number(),
});

export const FleetMessageSchema = z.strictObject({
  /** Breaker key as the sidecars build it (`upstream/endpoint[/model]` or `upstream`). */
  key: z.string().min(1).max(600),
  /** Open the circuit for this long from receipt (what the reporting sidecar chose). */
  openForMs: z.number().int().min(1),
  /** Pod that opened it, for logs. */
  origin: z.string().max(300),
  /** Hash of the policy this applies to; sidecars running another version ignore it. */
  policyHash: z.string(),
});

export const ReleaseMessageSchema = z.strictObject({
  /** The policy that governed the pod before, when the controller still knew it. */
  formerPolicy: z.strictObject({ namespace: z.string(), name: z.string() }).nullable(),
});

export const AckSchema = z.strictObject({
  hash: z.string(),
  accepted: z.boolean(),
  /** Why a snapshot was refused (field paths and messages; never secrets). */
  problems: z.array(z.string().max(2000)).max(50).default([]),
});

export const CircuitReportSchema = z.strictObject({
  key: z.string().max(600),
  upstream: z.string().max(63),
  endpoint: z.string().max(32),
  state: z.enum(['closed', 'open', 'half_open', 'forced_open', 'metrics_only', 'disabled']),
  /** Times this circuit opened since the sidecar started. */
  openings: z.number().int().min(0),
  /** Wall time of the last transition, if any. */
  lastTransitionWallMs: z.number().nullable(),
});

/** The breaker's counts when a transition happened (what tripped it), for Events and alerts. */
export const TransitionCountsSchema = z.strictObject({
  consecutiveFailures: z.number().int().min(0),
  windowFailures: z.number().int().min(0),
  windowCalls: z.number().int().min(0),
});

export const TransitionReportSchema = z.strictObject({
  key: z.string().max(600),
  from: z.string().max(32),
  to: z.string().max(32),
  reason: z.string().max(64),
  openForMs: z.number().nullable(),
  atWallMs: z.number(),
  /** Absent from sidecars older than the field; the controller then reports no counts. */
  counts: TransitionCountsSchema.optional(),
});

/**
 * Requests since the previous report that found every target of their chain open, folded per
 * requested circuit: the controller raises the policy's `allTargetsOpen` alert from them.
 */
export const AllTargetsOpenReportSchema = z.strictObject({
  upstream: z.string().max(63),
  endpoint: z.string().max(32),
  /** How many requests were refused that way since the previous report. */
  requests: z.number().int().min(1),
  /** Wall time of the last of them. */
  atWallMs: z.number(),
  /** The chain the last of them tried (`openai:open,backup:open`). */
  attempts: z.string().max(600),
});

export const ReportSchema = z.strictObject({
  /** Hash of the snapshot the sidecar runs. */
  hash: z.string().nullable(),
  circuits: z.array(CircuitReportSchema).max(2000),
  /** Transitions since the previous report, oldest first. */
  transitions: z.array(TransitionReportSchema).max(1000),
  /** Absent when there were none, and from sidecars older than the field. */
  allTargetsOpen: z.array(AllTargetsOpenReportSchema).max(200).optional(),
});

export type SnapshotMessage = z.output<typeof SnapshotMessageSchema>;
export type FleetMessage = z.output<typeof FleetMessageSchema>;
export type ReleaseMessage = z.output<typeof ReleaseMessageSchema>;
export type Ack = z.output<typeof AckSchema>;
export type CircuitReport = z.output<typeof CircuitReportSchema>;
export type TransitionReport = z.output<typeof TransitionReportSchema>;
export type TransitionCounts = z.output<typeof TransitionCountsSchema>;
export type AllTargetsOpenReport = z.output<typeof AllTargetsOpenReportSchema>;
export type Report = z.output<typeof ReportSchema>;

export { SNAPSHOT_SCHEMA_VERSION };
