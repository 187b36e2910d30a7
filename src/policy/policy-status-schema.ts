/**
 * The status of an AICircuitPolicy: what the controller observed and writes into `.status`
 * (never users). Kept apart from the spec's schema (src/policy/schema/) because the controller
 * owns it; it lives in policy/ because the CRD manifest includes it, and policy/ imports no
 * control-plane code.
 */
import { z } from 'zod';

/** Bound of status.upstreams, the comma-separated names kubectl get shows. */
export const STATUS_UPSTREAMS_MAX_LENGTH = 2048;

const Condition = z.strictObject({
  type: z.string().max(316).meta({ description: 'Accepted, Ready or Degraded.' }),
  status: z.enum(['True', 'False', 'Unknown']).meta({ description: 'True, False or Unknown.' }),
  observedGeneration: z
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Generation the condition was set for.' }),
  lastTransitionTime: z
    .string()
    .meta({ description: 'When the status last changed.', format: 'date-time' }),
  reason: z.string().max(1024).meta({ description: 'CamelCase reason for the status.' }),
  message: z.string().max(32768).meta({ description: 'Human readable detail.' }),
});

const CircuitStatus = z.strictObject({
  upstream: z.string().max(63).meta({ description: 'Upstream of the circuit.' }),
  endpoint: z
    .string()
    .max(32)
    .optional()
    .meta({ description: 'Endpoint class, when circuits are kept per class.' }),
  state: z
    .enum(['closed', 'open', 'halfOpen', 'forcedOpen', 'forcedClosed'])
    .meta({ description: 'Worst state reported by the sidecars.' }),
  openSidecars: z.int().min(0).meta({ description: 'Sidecars that see this circuit open.' }),
  openings: z
    .int()
    .min(0)
    .optional()
    .meta({ description: 'Times the circuit opened, summed over sidecars.' }),
  lastTransitionTime: z
    .string()
    .optional()
    .meta({ description: 'When the state last changed.', format: 'date-time' }),
});

export const PolicyStatusSchema = z
  .strictObject({
    observedGeneration: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Generation of the spec the controller last processed.' }),
    conditions: z
      .array(Condition)
      .max(16)
      .optional()
      .meta({
        description: 'Accepted, Ready and Degraded.',
        // One entry per type, so server-side apply merges conditions one at a time.
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    upstreams: z.string().max(STATUS_UPSTREAMS_MAX_LENGTH).optional().meta({
      description:
        'Names of the upstreams, comma separated (for kubectl get); a long list ends with "… +N".',
    }),
    openCircuits: z
      .int()
      .min(0)
      .optional()
      .meta({ description: 'Circuits currently open in at least one sidecar.' }),
    sidecars: z
      .strictObject({
        selected: z.int().min(0).meta({ description: 'Sidecars of pods the policy selects.' }),
        connected: z.int().min(0).meta({ description: 'Of those, connected to the controller.' }),
        acknowledged: z
          .int()
          .min(0)
          .meta({ description: 'Running the current version of the policy.' }),
        rejected: z
          .int()
          .min(0)
          .meta({ description: 'Refused the current version (and kept the last good one).' }),
      })
      .optional()
      .meta({ description: 'Delivery of the compiled policy to sidecars.' }),
    circuits: z
      .array(CircuitStatus)
      .max(256)
      .optional()
      .meta({ description: 'Circuit state per upstream (and endpoint class).' }),
    overlappingPolicies: z
      .array(z.string().max(253))
      .max(64)
      .optional()
      .meta({ description: 'Other policies in the namespace that select some of the same pods.' }),
  })
  .meta({ description: 'Observed state, written by the controller.' });

export type PolicyStatus = z.output<typeof PolicyStatusSchema>;
