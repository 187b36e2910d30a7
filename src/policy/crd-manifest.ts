/**
 * Generates the AICircuitPolicy CustomResourceDefinition from the zod schemas, so the API server
 * validates exactly what `aicb validate` validates. The output is a plain object; rendering it as
 * YAML happens at the edges (CLI and the generator script).
 */
import { z } from 'zod';
import { API_GROUP, API_VERSION, KIND, PolicySpecSchema } from './policy-schema.ts';
import { PolicyStatusSchema } from './policy-status-schema.ts';

export const CRD_PLURAL = 'aicircuitpolicies';
export const CRD_NAME = `${CRD_PLURAL}.${API_GROUP}`;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = Record<string, Json>;

/** The CRD manifest, ready for `kubectl apply --server-side`. */
export function buildCrdManifest(): JsonObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: CRD_NAME,
      labels: {
        'app.kubernetes.io/name': 'ai-circuit-breaker',
        'app.kubernetes.io/part-of': 'ai-circuit-breaker',
      },
    },
    spec: {
      group: API_GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: CRD_PLURAL,
        singular: 'aicircuitpolicy',
        shortNames: ['aicp'],
        categories: ['aicircuit'],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            {
              name: 'Upstreams',
              type: 'string',
              jsonPath: '.status.upstreams',
              description: 'Upstreams of the policy.',
            },
            {
              name: 'Open',
              type: 'integer',
              jsonPath: '.status.openCircuits',
              description: 'Circuits open in at least one sidecar.',
            },
            {
              name: 'Accepted',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Accepted")].status',
              description: 'The policy is valid and its Secrets resolved.',
            },
            {
              name: 'Ready',
              type: 'string',
              jsonPath: '.status.conditions[?(@.type=="Ready")].status',
              description:
                'Accepted, not shadowed by an older policy, and every selected sidecar runs the current version.',
            },
            {
              name: 'Reason',
              type: 'string',
              priority: 1,
              jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
              description: 'Why the policy is (not) Ready.',
            },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description:
                'AICircuitPolicy puts circuit breakers, fallbacks and alerts on the AI provider calls of the pods it selects.',
              required: ['spec'],
              properties: {
                apiVersion: {
                  type: 'string',
                  description: 'APIVersion of this object: aicircuit.io/v1alpha1.',
                },
                kind: { type: 'string', description: 'Kind of this object: AICircuitPolicy.' },
                metadata: { type: 'object' },
                spec: toStructural(PolicySpecSchema),
                status: toStructural(PolicyStatusSchema),
              },
            },
          },
        },
      ],
    },
  };
}

/** zod → OpenAPI v3 schema, then trimmed to what a Kubernetes structural schema allows. */
function toStructural(schema: z.ZodType): JsonObject {
  const generated = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io: 'input',
    unrepresentable: 'throw',
  }) as JsonObject;
  return clean(generated) as JsonObject;
}

const DROPPED_KEYS = new Set(['$schema', 'propertyNames', 'id']);
const SAFE_INT_LIMIT = Number.MAX_SAFE_INTEGER;

function clean(node: Json): Json {
  if (Array.isArray(node)) return node.map(clean);
  if (node === null || typeof node !== 'object') return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (DROPPED_KEYS.has(key)) continue;
    // Structural schemas forbid additionalProperties:false; unknown fields are pruned or,
    // with kubectl's default strict field validation, rejected.
    if (key === 'additionalProperties' && value === false) continue;
    // zod spells "any safe integer" as explicit bounds; they are noise in kubectl explain.
    if (
      (key === 'maximum' && value === SAFE_INT_LIMIT) ||
      (key === 'minimum' && value === -SAFE_INT_LIMIT)
    )
      continue;
    // The format check is done by format: date-time; zod's long regex only hurts readability.
    if (key === 'pattern' && node.format === 'date-time') continue;
    out[key] = clean(value);
  }
  return out;
}
