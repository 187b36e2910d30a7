// The generated AICircuitPolicy CRD on a real kube-apiserver: install, schema and CEL validation
// of every example fixture, defaulting, `kubectl explain`, printer columns, status subresource.
import { parseDocument } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRD_NAME, CRD_PLURAL, buildCrdManifest } from '../../src/policy/crd-manifest.ts';
import { parsePolicyDocuments } from '../../src/policy/parse-policy-documents.ts';
import { API_GROUP, API_VERSION } from '../../src/policy/policy-schema.ts';
import { REPO_ROOT, loadFixtures, type Fixture } from '../support/fixtures.ts';
import { largePolicyYaml } from '../support/large-policy.ts';
import {
  connect,
  eventually,
  kubeTestenv,
  type Cluster,
  type KubectlResult,
} from '../support/kube-testenv/cluster.ts';

const env = kubeTestenv();
const fixtures = loadFixtures();
const validFixtures = fixtures.filter((f) => f.valid);
const invalidFixtures = fixtures.filter((f) => !f.valid);

// The fields these tests read of a stored policy (src/controlplane/kube/resources.ts keeps spec unknown).
interface StoredPolicyView {
  metadata: { name: string; namespace: string; generation: number; resourceVersion: string };
  spec: Record<string, unknown> & { breaker: Record<string, unknown> };
  status?: Record<string, unknown>;
}

// False here so the ACCEPTED and READY columns cannot be read off the same condition.
const ACCEPTED_CONDITION = {
  type: 'Accepted',
  status: 'False',
  reason: 'Invalid',
  message: 'column test',
  lastTransitionTime: '2026-01-01T00:00:00Z',
};

const READY_CONDITION = {
  type: 'Ready',
  status: 'True',
  reason: 'AllSidecarsCurrent',
  message: 'every selected sidecar runs the current version',
  lastTransitionTime: '2026-01-01T00:00:00Z',
};

const TWO_UPSTREAMS = `
apiVersion: aicircuit.io/v1alpha1
kind: AICircuitPolicy
metadata:
  name: NAME
spec:
  upstreams:
    - { name: openai, provider: openai, baseURL: https://api.openai.com }
    - { name: anthropic, provider: anthropic, baseURL: https://api.anthropic.com }
`;

const TITLE = 'AICircuitPolicy CRD on a real kube-apiserver';

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let install: KubectlResult;

  beforeAll(async () => {
    cluster = connect(env);
    // As a user types it, from the repository root.
    install = await cluster.kubectl(['apply', '--server-side', '-f', 'crds/'], { cwd: REPO_ROOT });
    await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      `crd/${CRD_NAME}`,
      '--timeout=60s',
    ]);
  });

  it('kubectl apply --server-side -f crds/ installs the CRD only (crds/examples/ is not recursed) and it becomes Established', async () => {
    expect(install.stderr).not.toMatch(/error/i);
    expect(install.code).toBe(0);
    expect(install.stdout.trim().split('\n')).toEqual([
      `customresourcedefinition.apiextensions.k8s.io/${CRD_NAME} serverside-applied`,
    ]);

    const wait = await cluster.kubectl([
      'wait',
      '--for=condition=Established',
      `crd/${CRD_NAME}`,
      '--timeout=60s',
    ]);
    expect(wait.code).toBe(0);
    expect(wait.stdout).toContain(
      `customresourcedefinition.apiextensions.k8s.io/${CRD_NAME} condition met`,
    );

    const names = await cluster.kubectl([
      'get',
      `crd/${CRD_NAME}`,
      '-o',
      'jsonpath={.status.conditions[?(@.type=="NamesAccepted")].status}',
    ]);
    expect(names.stdout).toBe('True');

    const policies = await cluster.kubectl(['get', 'aicp', '--all-namespaces', '-o', 'name']);
    expect(policies.code).toBe(0);
    expect(policies.stdout).toBe('');
  });

  describe('every valid fixture in crds/examples/ is accepted, with the same defaults as aicb validate', () => {
    let ns: string;
    beforeAll(async () => {
      ns = await cluster.createNamespace('valid');
    });

    it.each(validFixtures)('$file', async (fixture) => {
      const { name, text } = inNamespace(fixture, ns);
      const applied = await applyFixture(cluster, fixture, ns, text);
      expect(applied.output).toContain(`aicircuitpolicy.${API_GROUP}/${name} serverside-applied`);
      expect(applied.code).toBe(0);

      const stored = await getPolicy(cluster, ns, name);
      const [offline] = parsePolicyDocuments(fixture.text);
      if (!offline?.result.ok) throw new Error(`${fixture.file} is not valid offline`);
      // The server's structural defaults and zod's defaults are the same contract.
      expect(stored.spec).toEqual(offline.result.policy.spec);
    });
  });

  describe('every invalid fixture in crds/examples/ is rejected by the API server with its # expect-server: message, and only that one', () => {
    let ns: string;
    beforeAll(async () => {
      ns = await cluster.createNamespace('invalid');
    });

    it.each(invalidFixtures)('$file', async (fixture) => {
      expect(fixture.expectServer, `${fixture.file} has no # expect-server: line`).toBeDefined();
      const rejected = await applyFixture(cluster, fixture, ns);
      expect(rejected.code).not.toBe(0);
      expect(rejected.output).toContain(fixture.expectServer);
      // One problem, one message, as offline: kubectl lists several causes in brackets.
      expect(rejected.output, 'more than one error from the API server').not.toMatch(
        /is invalid: \[/,
      );

      const { name } = inNamespace(fixture, ns);
      const get = await cluster.kubectl(['get', 'aicp', name, '-n', ns]);
      expect(get.code).not.toBe(0);
      expect(get.stderr).toContain('NotFound');
    });
  });

  it('kubectl explain aicp.spec.breaker prints the field documentation from the schema', async () => {
    const breaker = crdSpecSchema().properties.breaker;
    if (breaker === undefined) throw new Error('the CRD schema has no spec.breaker');
    // The OpenAPI document of a new CRD may lag its Established condition by a moment.
    const explain = await eventually(async () => {
      const r = await cluster.kubectl(['explain', 'aicp.spec.breaker']);
      return r.code === 0 ? r : undefined;
    });
    expect(explain?.code).toBe(0);
    const out = oneLine(explain?.stdout ?? '');
    expect(out).toContain('FIELD: breaker <Object>');
    expect(out).toContain(oneLine(breaker.description));
    expect(out).toContain(
      'failureThreshold <integer> Consecutive failures that open the circuit (0 turns the rule off; then failureRate must be set).',
    );
    for (const [field, schema] of Object.entries(breaker.properties)) {
      expect(out, `description of spec.breaker.${field}`).toContain(
        `${field} <${explainType(schema)}>`,
      );
      expect(out, `description of spec.breaker.${field}`).toContain(oneLine(schema.description));
    }
  });

  it('the server applies the schema defaults to a minimal policy', async () => {
    const ns = await cluster.createNamespace('defaults');
    const minimal = fixtures.find((f) => f.file === 'valid-minimal.yaml');
    if (minimal === undefined) throw new Error('crds/examples/valid-minimal.yaml is missing');
    expect((await applyFixture(cluster, minimal, ns)).code).toBe(0);

    const stored = await getPolicy(cluster, ns, 'minimal');
    expect(stored.spec.breaker).toMatchObject({
      failureThreshold: 5,
      window: '60s',
      recoveryTimeout: '30s',
      recoveryBackoff: { multiplier: 2, max: '5m', jitter: 0.2 },
      keyBy: 'endpoint',
    });
    expect(stored.spec.failOn).toMatchObject({ statusCodes: [500, 502, 503, 504, 529] });
    expect(stored.spec.alerting).toEqual({
      events: ['opened', 'closed', 'allTargetsOpen'],
      dedupWindow: '5m',
    });
    expect(stored.spec.upstreams).toEqual([
      {
        name: 'openai',
        provider: 'openai',
        baseURL: 'https://api.openai.com',
        timeouts: { connect: '5s', firstByte: '60s', idle: '30s', total: '600s' },
        maxConnections: 4096,
      },
    ]);
  });

  // The API server costs every CEL rule against the schema's list bounds when the CRD is
  // installed (beforeAll would fail on an over-budget rule) and again against the real object on
  // each write (its runtime budget). These policies do the most work the rules allow per
  // upstream: 63-character names, a full chain each, the most overrides.
  it.each([128, 256])(
    'accepts a policy of %i upstreams with a full fallback chain on each, as aicb validate does',
    async (upstreams) => {
      const ns = await cluster.createNamespace(`large-${upstreams}`);
      const text = largePolicyYaml(upstreams);
      const applied = await cluster.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], {
        input: text,
      });
      expect(applied.output).toContain(`aicircuitpolicy.${API_GROUP}/large serverside-applied`);
      expect(applied.code).toBe(0);

      const stored = await getPolicy(cluster, ns, 'large');
      const [offline] = parsePolicyDocuments(text);
      if (!offline?.result.ok) throw new Error('the large policy is not valid offline');
      expect(stored.spec).toEqual(offline.result.policy.spec);
    },
  );

  it('rejects one upstream more than the cap', async () => {
    const ns = await cluster.createNamespace('too-large');
    const rejected = await cluster.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], {
      input: largePolicyYaml(257),
    });
    expect(rejected.code).not.toBe(0);
    expect(rejected.output).toContain('spec.upstreams: Too many: 257: must have at most 256 items');
  });

  it('kubectl get aicp shows the printer columns, filled from status', async () => {
    const ns = await cluster.createNamespace('columns');
    const applied = await cluster.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], {
      input: TWO_UPSTREAMS.replace('NAME', 'chat'),
    });
    expect(applied.code).toBe(0);

    const before = await cluster.kubectl(['get', 'aicp', '-n', ns]);
    expect(before.code).toBe(0);
    const [header, row] = before.stdout.trim().split('\n');
    expect(header?.split(/\s+/)).toEqual(['NAME', 'UPSTREAMS', 'OPEN', 'ACCEPTED', 'READY', 'AGE']);
    expect(row?.split(/\s+/)[0]).toBe('chat');

    const patched = await cluster.kubectl([
      'patch',
      'aicp',
      'chat',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        status: {
          upstreams: 'openai,anthropic',
          openCircuits: 1,
          conditions: [ACCEPTED_CONDITION, READY_CONDITION],
        },
      }),
    ]);
    expect(patched.code).toBe(0);
    expect(patched.stdout).toContain(`aicircuitpolicy.${API_GROUP}/chat patched`);

    const after = await cluster.kubectl(['get', 'aicp', '-n', ns]);
    const lines = after.stdout.trim().split('\n');
    expect(lines[0]?.split(/\s+/)).toEqual([
      'NAME',
      'UPSTREAMS',
      'OPEN',
      'ACCEPTED',
      'READY',
      'AGE',
    ]);
    expect(lines[1]?.split(/\s+/).slice(0, 5)).toEqual([
      'chat',
      'openai,anthropic',
      '1',
      'False',
      'True',
    ]);
  });

  it('the status subresource accepts a status patch and ignores spec changes sent with it', async () => {
    const ns = await cluster.createNamespace('status');
    const applied = await cluster.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], {
      input: TWO_UPSTREAMS.replace('NAME', 'status-patch'),
    });
    expect(applied.code).toBe(0);
    const before = await getPolicy(cluster, ns, 'status-patch');

    await cluster.customObjects.patchNamespacedCustomObjectStatus({
      ...policyRef(ns, 'status-patch'),
      body: [
        { op: 'add', path: '/status', value: { openCircuits: 2, upstreams: 'openai,anthropic' } },
        { op: 'replace', path: '/spec/breaker/failureThreshold', value: 9 },
      ],
    });
    const viaClient = await getPolicy(cluster, ns, 'status-patch');
    expect(viaClient.status).toEqual({ openCircuits: 2, upstreams: 'openai,anthropic' });
    expect(viaClient.spec).toEqual(before.spec);
    expect(viaClient.metadata.generation).toBe(before.metadata.generation);

    const viaKubectl = await cluster.kubectl([
      'patch',
      'aicp',
      'status-patch',
      '-n',
      ns,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: { breaker: { failureThreshold: 7, window: '10s' } },
        status: { openCircuits: 0, conditions: [READY_CONDITION] },
      }),
    ]);
    expect(viaKubectl.code).toBe(0);
    const after = await getPolicy(cluster, ns, 'status-patch');
    expect(after.status).toEqual({
      openCircuits: 0,
      upstreams: 'openai,anthropic',
      conditions: [READY_CONDITION],
    });
    expect(after.spec).toEqual(before.spec);
    expect(after.spec.breaker).toMatchObject({ failureThreshold: 5, window: '60s' });
    expect(after.metadata.generation).toBe(before.metadata.generation);
  });

  it('a normal update changes spec and ignores status', async () => {
    const ns = await cluster.createNamespace('update');
    const applied = await cluster.kubectl(['apply', '--server-side', '-n', ns, '-f', '-'], {
      input: TWO_UPSTREAMS.replace('NAME', 'update'),
    });
    expect(applied.code).toBe(0);
    await cluster.customObjects.patchNamespacedCustomObjectStatus({
      ...policyRef(ns, 'update'),
      body: [{ op: 'add', path: '/status', value: { openCircuits: 3 } }],
    });
    const before = await getPolicy(cluster, ns, 'update');

    await cluster.customObjects.replaceNamespacedCustomObject({
      ...policyRef(ns, 'update'),
      body: {
        ...before,
        spec: { ...before.spec, breaker: { ...before.spec.breaker, failureThreshold: 8 } },
        status: { openCircuits: 99, upstreams: 'forged' },
      },
    });
    const after = await getPolicy(cluster, ns, 'update');
    expect(after.spec.breaker.failureThreshold).toBe(8);
    expect(after.metadata.generation).toBe(before.metadata.generation + 1);
    expect(after.status).toEqual({ openCircuits: 3 });

    // The same through kubectl: a merge patch of the main resource leaves status alone.
    const patched = await cluster.kubectl([
      'patch',
      'aicp',
      'update',
      '-n',
      ns,
      '--type=merge',
      '-p',
      JSON.stringify({ status: { openCircuits: 42 } }),
    ]);
    expect(patched.code).toBe(0);
    expect((await getPolicy(cluster, ns, 'update')).status).toEqual({ openCircuits: 3 });
  });
});

// ---------------------------------------------------------------------------------------------

function policyRef(namespace: string, name: string) {
  return { group: API_GROUP, version: API_VERSION, plural: CRD_PLURAL, namespace, name };
}

async function getPolicy(cluster: Cluster, namespace: string, name: string) {
  return (await cluster.customObjects.getNamespacedCustomObject(
    policyRef(namespace, name),
  )) as StoredPolicyView;
}

/**
 * The fixture's text with metadata.namespace set to `namespace` when the fixture names one
 * (kubectl refuses `-n` that contradicts the file), and its name.
 */
function inNamespace(fixture: Fixture, namespace: string): { name: string; text: string } {
  const doc = parseDocument(fixture.text);
  const name = doc.getIn(['metadata', 'name']);
  if (typeof name !== 'string') throw new Error(`${fixture.file} has no metadata.name`);
  if (!doc.hasIn(['metadata', 'namespace'])) return { name, text: fixture.text };
  doc.setIn(['metadata', 'namespace'], namespace);
  return { name, text: doc.toString() };
}

/** `kubectl apply --server-side -n <ns> -f <file>`, or `-f -` when the namespace was rewritten. */
function applyFixture(
  cluster: Cluster,
  fixture: Fixture,
  namespace: string,
  text = inNamespace(fixture, namespace).text,
): Promise<KubectlResult> {
  return text === fixture.text
    ? cluster.kubectl(['apply', '--server-side', '-n', namespace, '-f', fixture.path])
    : cluster.kubectl(['apply', '--server-side', '-n', namespace, '-f', '-'], { input: text });
}

interface SchemaNode {
  type?: string;
  description: string;
  items?: SchemaNode;
  properties: Record<string, SchemaNode>;
}

function crdSpecSchema(): SchemaNode {
  const crd = buildCrdManifest() as unknown as {
    spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] };
  };
  const root = crd.spec.versions[0]?.schema.openAPIV3Schema;
  if (root === undefined) throw new Error('the CRD has no version');
  const spec = root.properties.spec;
  if (spec === undefined) throw new Error('the CRD schema has no spec');
  return spec;
}

/** The type kubectl explain prints: <integer>, <string>, <Object>, <[]Object>. */
function explainType(schema: SchemaNode): string {
  if (schema.type === 'object') return 'Object';
  if (schema.type === 'array') return `[]${schema.items ? explainType(schema.items) : ''}`;
  return schema.type ?? '';
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
