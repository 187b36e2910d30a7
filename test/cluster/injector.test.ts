// The sidecar injector registered with a real kube-apiserver: pods created in opted-in
// namespaces (or opted in themselves) come back with exactly the injected spec; opted-out pods
// and excluded namespaces are untouched; two matching webhooks inject once; dry runs show the
// injection; and with the webhook down, pods are still created (failurePolicy Ignore).
import { V1Pod } from '@kubernetes/client-node';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { buildController, type Controller } from '../../src/controlplane/build-controller.ts';
import type { InjectorConfig } from '../../src/controlplane/injector/inject-sidecar.ts';
import type { KubeClients } from '../../src/controlplane/kube/kube-client.ts';
import { systemClock } from '../../src/shared/clock.ts';
import { createLogger } from '../../src/shared/create-logger.ts';
import { connect, eventually, kubeTestenv, type Cluster } from '../support/kube-testenv/cluster.ts';
import { makeTestTls, type TestTls } from '../support/test-tls.ts';
import { clientsFor, deletePolicies, installCrd } from './kube/kube-helpers.ts';

const env = kubeTestenv();
const TITLE = 'sidecar injector on a real kube-apiserver';

interface PodView {
  metadata: {
    name?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: {
    initContainers?: {
      name: string;
      restartPolicy?: string;
      image: string;
      securityContext?: Record<string, unknown>;
      env?: { name: string; value?: string }[];
      volumeMounts?: { name: string; mountPath: string }[];
    }[];
    containers: { name: string; env?: { name: string; value?: string }[] }[];
    volumes?: { name: string; projected?: unknown; emptyDir?: unknown }[];
  };
}

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let tls: TestTls;
  let controller: Controller;
  let enabledNs: string;
  let plainNs: string;
  let excludedNs: string;
  let leaseNs: string;
  let webhookName: string;
  let config: InjectorConfig;
  let webhookUrl: string;

  async function createPod(
    namespace: string,
    labels: Record<string, string>,
    name?: string,
  ): Promise<PodView> {
    const pod = await clients.core.createNamespacedPod({
      namespace,
      body: Object.assign(new V1Pod(), {
        metadata: { ...(name === undefined ? { generateName: 'shop-api-' } : { name }), labels },
        spec: {
          // A real cluster's ServiceAccount admission sets this; the test API server runs without it.
          serviceAccountName: 'default',
          containers: [
            {
              name: 'app',
              image: 'registry.example/shop-api:1',
              env: [{ name: 'ANTHROPIC_BASE_URL', value: 'https://own.example' }],
            },
          ],
        },
      }),
    });
    return JSON.parse(JSON.stringify(pod)) as PodView;
  }

  function webhookConfiguration(url: string): string {
    const excluded = {
      key: 'kubernetes.io/metadata.name',
      operator: 'NotIn',
      values: ['kube-system', 'kube-public', 'kube-node-lease', excludedNs],
    };
    const common = {
      clientConfig: { url: `${url}/mutate-pods`, caBundle: Buffer.from(tls.ca).toString('base64') },
      rules: [
        { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] },
      ],
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
      timeoutSeconds: 5,
      failurePolicy: 'Ignore',
      reinvocationPolicy: 'IfNeeded',
    };
    return stringify({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: webhookName },
      webhooks: [
        {
          name: 'namespace.inject.aicircuit.io',
          ...common,
          namespaceSelector: {
            matchLabels: { 'aicircuit.io/inject': 'enabled' },
            matchExpressions: [excluded],
          },
          objectSelector: {
            matchExpressions: [
              { key: 'aicircuit.io/inject', operator: 'NotIn', values: ['false'] },
            ],
          },
        },
        {
          name: 'pod.inject.aicircuit.io',
          ...common,
          namespaceSelector: { matchExpressions: [excluded] },
          objectSelector: { matchLabels: { 'aicircuit.io/inject': 'true' } },
        },
      ],
    });
  }

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
    tls = makeTestTls();
    enabledNs = await cluster.createNamespace('inj-on');
    await cluster.kubectl(['label', 'namespace', enabledNs, 'aicircuit.io/inject=enabled']);
    plainNs = await cluster.createNamespace('inj-plain');
    excludedNs = await cluster.createNamespace('inj-excluded');
    await cluster.kubectl(['label', 'namespace', excludedNs, 'aicircuit.io/inject=enabled']);
    leaseNs = await cluster.createNamespace('inj-system');
    webhookName = `aicb-injector-${enabledNs}`;
    config = {
      image: 'registry.example/ai-circuit-breaker:0.1.0',
      imagePullPolicy: 'IfNotPresent',
      controllerUrl: 'https://ai-circuit-breaker-controller.aicb-system.svc:15402',
      caBundle: tls.ca,
      resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '160Mi' } },
      excludedNamespaces: ['kube-system', 'kube-public', 'kube-node-lease', excludedNs],
      nodeOptions: '--max-semi-space-size=8',
      logLevel: 'info',
    };
    // A policy so the injector knows which SDK variables to set in enabledNs.
    const policy = stringify(
      {
        apiVersion: 'aicircuit.io/v1alpha1',
        kind: 'AICircuitPolicy',
        metadata: { name: 'egress', namespace: enabledNs },
        spec: {
          upstreams: [
            { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' },
            { name: 'anthropic', provider: 'anthropic', baseURL: 'https://api.anthropic.com' },
          ],
        },
      },
      { version: '1.1' },
    );
    const applied = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: policy });
    if (applied.code !== 0) throw new Error(applied.output);
    controller = buildController({
      clients,
      logger: createLogger({ level: 'warn' }),
      clock: systemClock,
      identity: 'injector-test',
      leaseNamespace: leaseNs,
      delivery: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      webhook: { host: '127.0.0.1', port: 0, https: { cert: tls.cert, key: tls.key }, config },
      collectProcessMetrics: false,
    });
    await controller.start();
    const started = await controller.listen();
    if (started.webhookUrl === undefined) throw new Error('no webhook URL');
    webhookUrl = started.webhookUrl;
    // The controller must have compiled the policy before pods arrive.
    await eventually(async () => {
      const r = await cluster.kubectl([
        'get',
        'aicp',
        'egress',
        '-n',
        enabledNs,
        '-o',
        'jsonpath={.status.observedGeneration}',
      ]);
      return r.stdout.trim() === '' ? undefined : true;
    });
    const registered = await cluster.kubectl(['apply', '-f', '-'], {
      input: webhookConfiguration(webhookUrl),
    });
    if (registered.code !== 0) throw new Error(registered.output);
  }, 60_000);

  afterAll(async () => {
    if (!env.available) return;
    await cluster.kubectl([
      'delete',
      'mutatingwebhookconfiguration',
      webhookName,
      '--ignore-not-found',
    ]);
    await controller.stop().catch(() => undefined);
    await deletePolicies(cluster, [enabledNs]);
    tls.cleanup();
  });

  it('injects a native sidecar, token and state volumes, SDK variables and a status annotation', async () => {
    const pod = await createPod(enabledNs, { app: 'shop-api' });
    expect(pod.metadata.name).toMatch(/^shop-api-/); // generateName: no name in the request
    const sidecar = pod.spec.initContainers?.[0];
    expect(sidecar).toMatchObject({
      name: 'aicb-sidecar',
      image: config.image,
      restartPolicy: 'Always',
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      },
    });
    expect(sidecar?.volumeMounts).toEqual([
      { name: 'aicb-token', mountPath: '/var/run/secrets/aicircuit.io', readOnly: true },
      { name: 'aicb-state', mountPath: '/var/run/aicb' },
    ]);
    expect(pod.spec.volumes?.find((v) => v.name === 'aicb-token')?.projected).toMatchObject({
      sources: [
        {
          serviceAccountToken: { audience: 'aicircuit.io', expirationSeconds: 3600, path: 'token' },
        },
      ],
    });
    // The app keeps its own ANTHROPIC_BASE_URL; OPENAI_BASE_URL now points at the sidecar.
    expect(pod.spec.containers[0]?.env).toEqual([
      { name: 'ANTHROPIC_BASE_URL', value: 'https://own.example' },
      { name: 'OPENAI_BASE_URL', value: 'http://127.0.0.1:15400/openai/v1' },
    ]);
    expect(pod.metadata.labels?.['aicircuit.io/injected']).toBe('true');
    expect(JSON.parse(pod.metadata.annotations?.['aicircuit.io/status'] ?? '{}')).toMatchObject({
      version: 1,
      image: config.image,
    });
  });

  it('leaves an opted-out pod alone', async () => {
    const pod = await createPod(enabledNs, { app: 'x', 'aicircuit.io/inject': 'false' });
    expect(pod.spec.initContainers).toBeUndefined();
  });

  it('injects a pod that opts in by label in a namespace that did not, and never twice', async () => {
    const optIn = await createPod(plainNs, { app: 'x', 'aicircuit.io/inject': 'true' });
    expect(optIn.spec.initContainers?.map((c) => c.name)).toEqual(['aicb-sidecar']);
    // In an enabled namespace with the pod label too, both webhooks match: still one sidecar.
    const both = await createPod(enabledNs, { app: 'x', 'aicircuit.io/inject': 'true' });
    expect(both.spec.initContainers?.map((c) => c.name)).toEqual(['aicb-sidecar']);
    expect(both.spec.volumes?.filter((v) => v.name === 'aicb-token')).toHaveLength(1);
    const plain = await createPod(plainNs, { app: 'x' });
    expect(plain.spec.initContainers).toBeUndefined();
  });

  it('never touches excluded namespaces', async () => {
    const pod = await createPod(excludedNs, { app: 'x', 'aicircuit.io/inject': 'true' });
    expect(pod.spec.initContainers).toBeUndefined();
  });

  it('shows the injection in a server-side dry run without creating the pod', async () => {
    const manifest = stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'dry-run-pod', namespace: enabledNs, labels: { app: 'x' } },
      spec: {
        serviceAccountName: 'default',
        containers: [{ name: 'app', image: 'registry.example/app:1' }],
      },
    });
    const r = await cluster.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], {
      input: manifest,
    });
    expect(r.code, r.output).toBe(0);
    const pod = JSON.parse(r.stdout) as PodView;
    expect(pod.spec.initContainers?.[0]?.name).toBe('aicb-sidecar');
    const get = await cluster.kubectl(['get', 'pod', 'dry-run-pod', '-n', enabledNs]);
    expect(get.code).not.toBe(0);
  });

  it('swaps its serving certificate without a restart (a renewed Secret)', async () => {
    const renewed = makeTestTls();
    try {
      controller.reloadTls({ cert: renewed.cert, key: renewed.key });
      const dispatcher = new Agent({ connect: { ca: renewed.ca } });
      const res = await request(`${webhookUrl}/mutate-pods`, {
        method: 'POST',
        dispatcher,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: { uid: 'u1' },
        }),
      });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toMatchObject({ response: { uid: 'u1', allowed: true } });
      await dispatcher.close();
      // The API server, which trusts only the old CA, now fails its calls: put the old one back.
      controller.reloadTls({ cert: tls.cert, key: tls.key });
    } finally {
      renewed.cleanup();
    }
  });

  it('does not block pod creation when the webhook is down (failurePolicy Ignore)', async () => {
    await controller.stop();
    const started = performance.now();
    const pod = await createPod(enabledNs, { app: 'y' });
    const elapsedMs = performance.now() - started;
    expect(pod.spec.initContainers).toBeUndefined();
    console.log(`pod creation with the webhook down: ${elapsedMs.toFixed(0)} ms`);
    expect(elapsedMs).toBeLessThan(10_000);
  });
});
