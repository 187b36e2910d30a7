import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderCrdYaml, CRD_FILE } from '../../../src/cli/crd-yaml.ts';
import { buildCrdManifest } from '../../../src/policy/crd-manifest.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';

interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  [key: string]: unknown;
}

function openApiSchema(): SchemaNode {
  const crd = buildCrdManifest() as unknown as {
    spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] };
  };
  const version = crd.spec.versions[0];
  if (version === undefined) throw new Error('no version');
  return version.schema.openAPIV3Schema;
}

function walk(
  node: SchemaNode,
  path: string,
  visit: (node: SchemaNode, path: string) => void,
): void {
  visit(node, path);
  for (const [name, child] of Object.entries(node.properties ?? {}))
    walk(child, `${path}.${name}`, visit);
  if (node.items) walk(node.items, `${path}[]`, visit);
  if (typeof node.additionalProperties === 'object')
    walk(node.additionalProperties, `${path}{}`, visit);
}

describe('generated CRD', () => {
  it('is the checked-in file byte for byte (aicb crd prints the same text)', () => {
    expect(readFileSync(join(REPO_ROOT, CRD_FILE), 'utf8')).toBe(renderCrdYaml());
  });

  it('names the resource with its fixed group, kind, plural and short name', () => {
    const crd = parse(renderCrdYaml()) as {
      metadata: { name: string };
      spec: {
        group: string;
        names: Record<string, unknown>;
        versions: { name: string; subresources: unknown }[];
      };
    };
    expect(crd.metadata.name).toBe('aicircuitpolicies.aicircuit.io');
    expect(crd.spec.group).toBe('aicircuit.io');
    expect(crd.spec.names).toMatchObject({
      kind: 'AICircuitPolicy',
      plural: 'aicircuitpolicies',
      shortNames: ['aicp'],
      categories: ['aicircuit'],
    });
    expect(crd.spec.versions[0]).toMatchObject({ name: 'v1alpha1', subresources: { status: {} } });
  });

  it('documents every field so kubectl explain can show it', () => {
    const undocumented: string[] = [];
    walk(openApiSchema(), '', (node, path) => {
      const isField = path !== '' && !path.endsWith('[]') && !path.endsWith('{}');
      if (isField && path !== '.metadata' && !node.description) undocumented.push(path);
    });
    expect(undocumented).toEqual([]);
  });

  it('is structural: every node typed, no anyOf/oneOf/$ref, no additionalProperties:false', () => {
    const problems: string[] = [];
    walk(openApiSchema(), '', (node, path) => {
      if (node.type === undefined) problems.push(`${path}: no type`);
      for (const banned of ['anyOf', 'oneOf', 'allOf', 'not', '$ref', 'nullable'])
        if (banned in node) problems.push(`${path}: ${banned}`);
      if (node.additionalProperties === false) problems.push(`${path}: additionalProperties false`);
      if (
        node.type === 'object' &&
        node.properties &&
        typeof node.additionalProperties === 'object'
      )
        problems.push(`${path}: properties and additionalProperties together`);
    });
    expect(problems).toEqual([]);
  });

  it('carries the product defaults and the CEL twins of the cross-field rules', () => {
    const spec = openApiSchema().properties?.spec;
    const breaker = spec?.properties?.breaker;
    expect(breaker?.properties?.failureThreshold?.default).toBe(5);
    expect(breaker?.properties?.window?.default).toBe('60s');
    expect(breaker?.properties?.recoveryTimeout?.default).toBe('30s');
    expect(spec?.properties?.failOn?.properties?.statusCodes?.default).toEqual([
      500, 502, 503, 504, 529,
    ]);
    const rules = (spec?.['x-kubernetes-validations'] as { message: string }[]).map(
      (r) => r.message,
    );
    expect(rules).toContain('fallback targets must name one of spec.upstreams');
    expect(rules).toContain('defaultUpstream must name one of spec.upstreams');
  });

  it('bounds every array and string a CEL rule iterates, so the API server accepts the rule cost', () => {
    const unbounded: string[] = [];
    walk(openApiSchema(), '', (node, path) => {
      if (!path.startsWith('.spec')) return;
      if (node.type === 'array' && node.maxItems === undefined) unbounded.push(path);
      if (node.type === 'string' && node.maxLength === undefined && node.enum === undefined)
        unbounded.push(path);
    });
    expect(unbounded).toEqual([]);
  });
});
