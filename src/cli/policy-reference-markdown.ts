/**
 * Renders the field reference of AICircuitPolicy (docs/policy-reference.md) from the generated
 * CRD schema, so the documentation lists exactly the fields, defaults and rules the API server
 * enforces.
 */
import { buildCrdManifest } from '../policy/crd-manifest.ts';

export const POLICY_REFERENCE_FILE = 'docs/policy-reference.md';

const DURATION_RULE = 'must be a positive duration';

interface Node {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, Node>;
  items?: Node;
  required?: string[];
  additionalProperties?: Node;
  minimum?: number;
  maximum?: number;
  pattern?: string;
  'x-kubernetes-validations'?: { rule: string; message: string }[];
}

export function renderPolicyReference(): string {
  const crd = buildCrdManifest() as unknown as {
    spec: { versions: { schema: { openAPIV3Schema: Node } }[] };
  };
  const root = crd.spec.versions[0]?.schema.openAPIV3Schema;
  const spec = root?.properties?.spec;
  if (spec === undefined) throw new Error('CRD has no spec schema');
  const rows: string[] = [];
  const rules: string[] = [];
  visit(spec, 'spec', false, rows, rules);
  return [
    '# AICircuitPolicy field reference (aicircuit.io/v1alpha1)',
    '',
    '<!-- Generated from src/policy/policy-schema.ts by `npm run gen:crd`; do not edit. -->',
    '',
    'Durations are positive strings such as `500ms`, `30s`, `5m`, `1h30m`. Required fields are marked ✱.',
    '',
    '| Field | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
    '## Cross-field rules',
    '',
    'Checked by the API server (CEL) and by `aicb validate` alike:',
    '',
    ...rules,
    '',
  ].join('\n');
}

function visit(node: Node, path: string, required: boolean, rows: string[], rules: string[]): void {
  if (path !== 'spec') {
    rows.push(
      `| \`${path}\`${required ? ' ✱' : ''} | ${typeOf(node)} | ${defaultOf(node)} | ${escape(node.description ?? '')} |`,
    );
  }
  const objectNode = node.type === 'array' ? node.items : node;
  const base = node.type === 'array' ? `${path}[]` : path;
  for (const [where, n] of [
    [path, node],
    [base, node.type === 'array' ? node.items : undefined],
  ] as const) {
    for (const r of n?.['x-kubernetes-validations'] ?? []) {
      // Every duration carries the same rule; the introduction states it once.
      if (r.message !== DURATION_RULE) rules.push(`- \`${where}\`: ${r.message}.`);
    }
  }
  for (const [name, child] of Object.entries(objectNode?.properties ?? {})) {
    visit(child, `${base}.${name}`, objectNode?.required?.includes(name) ?? false, rows, rules);
  }
}

function typeOf(node: Node): string {
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.type === 'array') return `list of ${node.items ? typeOf(node.items) : 'any'}`;
  if (node.type === 'object' && node.additionalProperties)
    return `map of ${typeOf(node.additionalProperties)}`;
  const range =
    node.minimum !== undefined || node.maximum !== undefined
      ? ` (${node.minimum ?? ''}–${node.maximum ?? ''})`
      : '';
  return `${node.type ?? 'any'}${range}`;
}

function defaultOf(node: Node): string {
  if (node.default === undefined) return '';
  const text = JSON.stringify(node.default);
  return text === '{}' ? '' : `\`${text}\``;
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
