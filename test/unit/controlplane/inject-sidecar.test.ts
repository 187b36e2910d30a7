import { describe, expect, it } from 'vitest';
import {
  baseUrlEnv,
  injectSidecar,
  type InjectorConfig,
  type JsonPatchOp,
  type PodJson,
} from '../../../src/controlplane/injector/inject-sidecar.ts';

const config: InjectorConfig = {
  image: 'registry.example/ai-circuit-breaker:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  controllerUrl: 'https://ai-circuit-breaker-controller.aicb-system.svc:15402',
  caBundle: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '160Mi' } },
  excludedNamespaces: ['kube-system', 'aicb-system'],
  nodeOptions: '--max-semi-space-size=8',
  logLevel: 'info',
};
const upstreams = [
  { name: 'openai', provider: 'openai' as const },
  { name: 'claude', provider: 'anthropic' as const },
];

/** Applies the add operations of a JSON patch (all the injector emits), as the API server would. */
function apply(pod: PodJson, patch: readonly JsonPatchOp[]): Record<string, unknown> {
  const doc = structuredClone(pod) as Record<string, unknown>;
  for (const op of patch) {
    const parts = op.path
      .slice(1)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop() ?? '';
    let target: unknown = doc;
    for (const part of parts) target = (target as Record<string, unknown>)[part];
    if (Array.isArray(target)) {
      if (last === '-') target.push(op.value);
      else target.splice(Number(last), 0, op.value);
    } else {
      (target as Record<string, unknown>)[last] = op.value;
    }
  }
  return doc;
}

const pod = (): PodJson => ({
  metadata: { generateName: 'shop-api-', labels: { app: 'shop-api' } },
  spec: {
    containers: [{ name: 'app', env: [{ name: 'ANTHROPIC_BASE_URL' }] }, { name: 'worker' }],
  },
});

describe('injectSidecar', () => {
  it('adds a native sidecar, its token and state volumes, the SDK variables, a label and a status', () => {
    const result = injectSidecar(pod(), 'shop', config, upstreams, 'openai');
    if (!result.injected) throw new Error(result.reason);
    const mutated = apply(pod(), result.patch) as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        initContainers: Record<string, unknown>[];
        containers: { name: string; env?: { name: string; value?: string }[] }[];
        volumes: Record<string, unknown>[];
      };
    };
    const sidecar = mutated.spec.initContainers[0];
    expect(sidecar).toMatchObject({
      name: 'aicb-sidecar',
      image: config.image,
      restartPolicy: 'Always',
      args: [
        'sidecar',
        '--controller',
        config.controllerUrl,
        '--token-file',
        '/var/run/secrets/aicircuit.io/token',
        '--state-dir',
        '/var/run/aicb',
        '--admin-host',
        '0.0.0.0',
        '--log-level',
        'info',
      ],
      resources: config.resources,
      securityContext: {
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
      startupProbe: { httpGet: { path: '/healthz', port: 15401 } },
      readinessProbe: { httpGet: { path: '/readyz', port: 15401 } },
    });
    expect(sidecar?.env).toContainEqual({ name: 'AICB_CONTROLLER_CA', value: config.caBundle });
    expect(mutated.spec.volumes).toEqual([
      {
        name: 'aicb-token',
        projected: {
          sources: [
            {
              serviceAccountToken: {
                audience: 'aicircuit.io',
                expirationSeconds: 3600,
                path: 'token',
              },
            },
          ],
        },
      },
      { name: 'aicb-state', emptyDir: { sizeLimit: '1Mi' } },
    ]);
    // The app's own ANTHROPIC_BASE_URL wins; the other variables are added.
    expect(mutated.spec.containers[0]?.env).toEqual([
      { name: 'ANTHROPIC_BASE_URL' },
      { name: 'OPENAI_BASE_URL', value: 'http://127.0.0.1:15400/openai/v1' },
    ]);
    expect(mutated.spec.containers[1]?.env).toEqual([
      { name: 'OPENAI_BASE_URL', value: 'http://127.0.0.1:15400/openai/v1' },
      { name: 'ANTHROPIC_BASE_URL', value: 'http://127.0.0.1:15400/claude' },
    ]);
    expect(mutated.metadata.labels).toEqual({ app: 'shop-api', 'aicircuit.io/injected': 'true' });
    expect(JSON.parse(mutated.metadata.annotations['aicircuit.io/status'] ?? '{}')).toEqual({
      version: 1,
      sidecar: 'aicb-sidecar',
      image: config.image,
      env: {
        OPENAI_BASE_URL: 'http://127.0.0.1:15400/openai/v1',
        ANTHROPIC_BASE_URL: 'http://127.0.0.1:15400/claude',
      },
    });
    // Idempotent: the mutated pod is left alone on reinvocation.
    expect(
      injectSidecar(mutated as unknown as PodJson, 'shop', config, upstreams, 'openai'),
    ).toEqual({
      injected: false,
      reason: 'already injected',
    });
  });

  it('puts the sidecar first among existing init containers and appends to existing volumes', () => {
    const withInit: PodJson = {
      metadata: { name: 'p', annotations: {} },
      spec: {
        initContainers: [{ name: 'migrate' }],
        containers: [{ name: 'app' }],
        volumes: [{ name: 'data' }],
      },
    };
    const result = injectSidecar(withInit, 'shop', config, [], undefined);
    if (!result.injected) throw new Error(result.reason);
    const mutated = apply(withInit, result.patch) as {
      spec: {
        initContainers: { name: string }[];
        volumes: { name: string }[];
        containers: { env?: unknown }[];
      };
    };
    expect(mutated.spec.initContainers.map((c) => c.name)).toEqual(['aicb-sidecar', 'migrate']);
    expect(mutated.spec.volumes.map((v) => v.name)).toEqual(['data', 'aicb-token', 'aicb-state']);
    // No governing policy yet: no SDK variables are forced on the app.
    expect(mutated.spec.containers[0]?.env).toBeUndefined();
  });

  it('leaves opted-out pods and excluded namespaces alone', () => {
    const optedOut: PodJson = {
      metadata: { labels: { 'aicircuit.io/inject': 'false' } },
      spec: { containers: [{ name: 'app' }] },
    };
    expect(injectSidecar(optedOut, 'shop', config, upstreams, 'openai').injected).toBe(false);
    expect(injectSidecar(pod(), 'kube-system', config, upstreams, 'openai')).toEqual({
      injected: false,
      reason: 'namespace kube-system is excluded from injection',
    });
  });

  it('picks the default upstream first when several share a provider, and maps Azure', () => {
    expect(
      baseUrlEnv(
        [
          { name: 'oa-eu', provider: 'openai' },
          { name: 'oa-us', provider: 'openai' },
          { name: 'azure', provider: 'azure-openai' },
        ],
        'oa-us',
      ),
    ).toEqual({
      OPENAI_BASE_URL: 'http://127.0.0.1:15400/oa-us/v1',
      AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:15400/azure',
    });
  });
});
