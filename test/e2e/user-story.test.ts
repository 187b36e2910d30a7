// The whole user story on a real single-node cluster (kubelet, containerd, kube-proxy, CoreDNS),
// with the image built from the repository's Dockerfile: helm install, kubectl apply a policy,
// label a namespace, deploy an app that uses the official openai SDK with nothing but the
// injected OPENAI_BASE_URL, then outages, recovery, hot reload, leader loss, webhook loss,
// upgrade and uninstall. Fake providers run on the host, on the cluster bridge's address, so
// only pods of this machine reach them. Measurements go to bench/e2e-results.md.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../support/fixtures.ts';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';
import {
  appAt,
  cgroupWorkingSetBytes,
  e2eEnv,
  kubeletMemory,
  memoryCgroupOf,
  toolsFor,
  waitFor,
  type Tools,
} from './support/e2e-cluster.ts';
import { clusterDown, clusterUp, type RunningCluster } from './support/cluster-lifecycle.ts';
import { leftovers } from './support/host-leftovers.ts';

const env = e2eEnv();
const TITLE = 'the user story on a real single-node cluster';
const RELEASE = 'ai-circuit-breaker';
const SYSTEM_NS = 'aicb-system';
const APP_NS = 'shop';
const CHART = join(REPO_ROOT, 'charts', 'ai-circuit-breaker');
const SIDECAR = 'aicb-sidecar';
const APP_KEY = 'sk-app-e2e';
const ANTHROPIC_KEY = 'sk-ant-e2e-from-secret';

/** Everything measured, written to bench/e2e-results.md at the end. */
const measured: {
  firstInjectedPodReadyMs?: number;
  sidecarAtRest?: {
    kubeletWorkingSetBytes: number;
    kubeletRssBytes: number;
    cgroupWorkingSetBytes: number;
  };
  sidecarUnderLoad?: {
    requests: number;
    concurrency: number;
    seconds: number;
    peakCgroupWorkingSetBytes: number;
    kubeletWorkingSetBytes?: number;
  };
  propagationMs: number[];
  leaderTakeoverMs?: number;
  clusterUpSeconds?: number;
  imageImportSeconds?: number;
} = { propagationMs: [] };

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  if (!env.available) return;
  let cluster: RunningCluster;
  let tools: Tools;
  const kubectlOk: Tools['kubectlOk'] = (args, input) => tools.kubectlOk(args, input);
  const helmOk: Tools['helmOk'] = (args) => tools.helmOk(args);
  const fakes: FakeProvider[] = [];
  let primary: FakeProvider;
  let fallback: FakeProvider;
  let app: ReturnType<typeof appAt>;

  function policy(extra: Record<string, unknown> = {}): string {
    return stringify({
      apiVersion: 'aicircuit.io/v1alpha1',
      kind: 'AICircuitPolicy',
      metadata: { name: 'chat', namespace: APP_NS },
      spec: {
        upstreams: [
          { name: 'openai', provider: 'openai', baseURL: primary.url },
          {
            name: 'anthropic',
            provider: 'anthropic',
            baseURL: fallback.url,
            apiKey: { secretKeyRef: { name: 'anthropic', key: 'api-key' } },
          },
        ],
        breaker: { failureThreshold: 3, window: '60s', recoveryTimeout: '3s', successThreshold: 2 },
        fallbacks: [
          { from: 'openai', to: [{ upstream: 'anthropic', model: 'claude-sonnet-4-6' }] },
        ],
        ...extra,
      },
    });
  }

  function appPod(name: string): string {
    return stringify({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: APP_NS, labels: { app: 'shop-api' } },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: 'app',
            image: env.available ? env.appImage.name : '',
            imagePullPolicy: 'IfNotPresent',
            // The app's own key; the base URL is the injector's business.
            env: [{ name: 'OPENAI_API_KEY', value: APP_KEY }],
            ports: [{ containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
          },
        ],
      },
    });
  }

  const jsonpath = (args: readonly string[], path: string) =>
    kubectlOk([...args, '-o', `jsonpath=${path}`]).then((s) => s.trim());

  async function leaderPod(): Promise<string | undefined> {
    const name = await jsonpath(
      ['get', 'pods', '-n', SYSTEM_NS, '-l', 'aicircuit.io/leader=true'],
      '{.items[*].metadata.name}',
    );
    return name === '' || name.includes(' ') ? undefined : name;
  }

  async function sidecarStatus(
    pod: string,
  ): Promise<{ restartCount: number; containerID: string }> {
    const raw = await kubectlOk(['get', 'pod', pod, '-n', APP_NS, '-o', 'json']);
    const parsed = JSON.parse(raw) as {
      status: {
        initContainerStatuses?: { name: string; restartCount: number; containerID?: string }[];
      };
    };
    const s = parsed.status.initContainerStatuses?.find((c) => c.name === SIDECAR);
    if (s?.containerID === undefined) throw new Error(`no ${SIDECAR} status in ${pod}`);
    return { restartCount: s.restartCount, containerID: s.containerID };
  }

  /** Polls the app until its calls are answered by `upstream`; returns the milliseconds taken. */
  async function untilAnsweredBy(upstream: string, timeoutMs = 30_000): Promise<number> {
    const start = performance.now();
    await waitFor(
      `the app's calls to be answered by ${upstream}`,
      async () => {
        const outcome = await app.chat();
        expect(outcome.ok, outcome.error).toBe(true);
        return outcome.upstream === upstream ? true : undefined;
      },
      { timeoutMs, intervalMs: 100 },
    );
    return performance.now() - start;
  }

  async function openCircuits(): Promise<string> {
    return jsonpath(['get', 'aicp', 'chat', '-n', APP_NS], '{.status.openCircuits}');
  }

  beforeAll(async () => {
    cluster = await clusterUp(env);
    measured.clusterUpSeconds = cluster.upSeconds;
    measured.imageImportSeconds = cluster.importSeconds;
    tools = toolsFor(cluster.kubeconfig, join(env.controlPlaneAssets, 'helm'));
    primary = await startFakeProvider({ api: 'openai', host: cluster.nodeIp });
    fakes.push(primary);
    fallback = await startFakeProvider({ api: 'anthropic', host: cluster.nodeIp });
    fakes.push(fallback);
  }, 600_000);

  afterAll(async () => {
    try {
      await Promise.all(fakes.map((f) => f.close()));
      writeResults();
    } finally {
      // Whatever happened above: the cluster goes, and nothing of it may stay on the host.
      await clusterDown();
    }
    expect(leftovers()).toEqual([]);
  }, 300_000);

  it('helm install runs the controller from the image built from the Dockerfile', async () => {
    await helmOk([
      'install',
      RELEASE,
      CHART,
      '--namespace',
      SYSTEM_NS,
      '--create-namespace',
      '--set',
      `image.repository=${env.image.repository}`,
      '--set',
      `image.tag=${env.image.tag}`,
      '--wait',
      '--timeout',
      '3m',
    ]);
    const images = await jsonpath(
      ['get', 'pods', '-n', SYSTEM_NS, '-l', 'app.kubernetes.io/component=controller'],
      '{.items[*].spec.containers[0].image}',
    );
    expect(images.split(' ')).toEqual([
      `${env.image.repository}:${env.image.tag}`,
      `${env.image.repository}:${env.image.tag}`,
    ]);
    // One replica leads and labels itself for the delivery Service.
    await waitFor('a leader pod', leaderPod);
  });

  it('an opted-in pod gets the native sidecar, and the SDK calls succeed through it', async () => {
    await kubectlOk(['create', 'namespace', APP_NS]);
    await kubectlOk([
      'create',
      'secret',
      'generic',
      'anthropic',
      '-n',
      APP_NS,
      `--from-literal=api-key=${ANTHROPIC_KEY}`,
    ]);
    await kubectlOk(['apply', '-f', '-'], policy());
    await waitFor('the policy to be accepted', async () =>
      (await jsonpath(['get', 'aicp', 'chat', '-n', APP_NS], '{.status.observedGeneration}')) === ''
        ? undefined
        : true,
    );
    await kubectlOk(['label', 'namespace', APP_NS, 'aicircuit.io/inject=enabled']);

    const start = performance.now();
    await kubectlOk(['apply', '-f', '-'], appPod('app'));
    await kubectlOk(['wait', '-n', APP_NS, 'pod/app', '--for=condition=Ready', '--timeout=120s']);
    measured.firstInjectedPodReadyMs = performance.now() - start;

    const pod = JSON.parse(await kubectlOk(['get', 'pod', 'app', '-n', APP_NS, '-o', 'json'])) as {
      spec: {
        initContainers?: { name: string; restartPolicy?: string; image: string }[];
        containers: { name: string; env?: { name: string; value?: string }[] }[];
      };
      status: { podIP: string };
    };
    const sidecar = pod.spec.initContainers?.find((c) => c.name === SIDECAR);
    expect(sidecar?.restartPolicy).toBe('Always');
    expect(sidecar?.image).toBe(`${env.image.repository}:${env.image.tag}`);
    const injected = pod.spec.containers[0]?.env?.find((e) => e.name === 'OPENAI_BASE_URL');
    expect(injected?.value).toBe('http://127.0.0.1:15400/openai/v1');

    app = appAt(pod.status.podIP);
    expect(await app.baseURL()).toBe('http://127.0.0.1:15400/openai/v1');
    const outcome = await app.chat();
    expect(outcome).toMatchObject({ ok: true, upstream: 'openai' });
    // The app's own key went to its own provider, through the sidecar.
    expect(primary.requests.at(-1)?.headers.authorization).toBe(`Bearer ${APP_KEY}`);
  });

  it('the sidecar container at rest, as the kubelet reports it', async () => {
    await sleep(5_000);
    const kubelet = await waitFor(
      'the kubelet to report the sidecar',
      () => kubeletMemory(tools, cluster.nodeName, APP_NS, 'app', SIDECAR),
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    const { containerID } = await sidecarStatus('app');
    measured.sidecarAtRest = {
      kubeletWorkingSetBytes: kubelet.workingSetBytes,
      kubeletRssBytes: kubelet.rssBytes,
      cgroupWorkingSetBytes: cgroupWorkingSetBytes(memoryCgroupOf(containerID)),
    };
    // At rest well under the chart's limit (1Gi, sized for the worst load; bench:memory measures
    // about 100 MB idle).
    expect(kubelet.workingSetBytes).toBeLessThan(160 * 1024 * 1024);
  });

  it('the primary fails: the circuit opens and the fallback answers, with no error reaching the app', async () => {
    primary.setDefault({ type: 'status', status: 500 });
    const before = primary.requests.length;
    for (let i = 0; i < 3; i += 1) {
      expect(await app.chat()).toMatchObject({
        ok: true,
        upstream: 'anthropic',
        fallback: 'openai->anthropic',
      });
    }
    const tripped = primary.requests.length;
    expect(tripped - before).toBeGreaterThanOrEqual(3);
    for (let i = 0; i < 5; i += 1) {
      expect(await app.chat()).toMatchObject({ ok: true, upstream: 'anthropic' });
    }
    // Open: the primary is not called any more.
    expect(primary.requests.length).toBe(tripped);
    // The fallback used the key from the Secret the policy names, delivered by the controller.
    expect(fallback.requests.at(-1)?.headers['x-api-key']).toBe(ANTHROPIC_KEY);
  });

  it('kubectl get aicp shows the open circuit, and an Event is recorded', async () => {
    await waitFor('OPEN 1 in kubectl get aicp', async () =>
      (await openCircuits()) === '1' ? true : undefined,
    );
    const table = await kubectlOk(['get', 'aicp', '-n', APP_NS]);
    expect(table).toMatch(/^chat\s+openai,anthropic\s+1\s+/m);
    const reasons = await waitFor('a CircuitOpened Event', async () => {
      const r = await jsonpath(
        ['get', 'events', '-n', APP_NS, '--field-selector', 'involvedObject.name=chat'],
        '{.items[*].reason}',
      );
      return r.includes('CircuitOpened') ? r : undefined;
    });
    expect(reasons).toContain('CircuitOpened');
  });

  it('the provider recovers: the circuit closes', async () => {
    primary.setDefault({ type: 'ok' });
    await untilAnsweredBy('openai');
    await waitFor('OPEN 0 in kubectl get aicp', async () =>
      (await openCircuits()) === '0' ? true : undefined,
    );
    const reasons = await jsonpath(
      ['get', 'events', '-n', APP_NS, '--field-selector', 'involvedObject.name=chat'],
      '{.items[*].reason}',
    );
    expect(reasons).toContain('CircuitClosed');
  });

  it('the sidecar container under load, as the cgroup and the kubelet report it', async () => {
    const { containerID } = await sidecarStatus('app');
    const cgroup = memoryCgroupOf(containerID);
    let peak = cgroupWorkingSetBytes(cgroup);
    const requests = 3_000;
    const concurrency = 20;
    const start = performance.now();
    const sampling = setInterval(() => {
      peak = Math.max(peak, cgroupWorkingSetBytes(cgroup));
    }, 100);
    const outcome = await app.load(requests, concurrency).finally(() => {
      clearInterval(sampling);
    });
    expect(outcome).toMatchObject({ ok: requests, failed: 0 });
    const kubelet = await kubeletMemory(tools, cluster.nodeName, APP_NS, 'app', SIDECAR);
    measured.sidecarUnderLoad = {
      requests,
      concurrency,
      seconds: (performance.now() - start) / 1000,
      peakCgroupWorkingSetBytes: peak,
      ...(kubelet === undefined ? {} : { kubeletWorkingSetBytes: kubelet.workingSetBytes }),
    };
    expect(peak).toBeLessThan(160 * 1024 * 1024);
  });

  it('a policy change reaches the running sidecar without a restart', async () => {
    const before = await sidecarStatus('app');
    await kubectlOk(
      ['apply', '-f', '-'],
      policy({ overrides: [{ upstream: 'openai', state: 'forcedOpen' }] }),
    );
    measured.propagationMs.push(await untilAnsweredBy('anthropic'));
    await kubectlOk(['apply', '-f', '-'], policy());
    measured.propagationMs.push(await untilAnsweredBy('openai'));
    expect(await sidecarStatus('app')).toEqual(before);
  });

  it('the leader pod is deleted: the sidecar keeps serving, and a new leader takes over', async () => {
    const old = await waitFor('a leader pod', leaderPod);
    const start = performance.now();
    await kubectlOk(['delete', 'pod', old, '-n', SYSTEM_NS, '--wait=false']);
    let calls = 0;
    const next = await waitFor(
      'another pod to lead',
      async () => {
        const outcome = await app.chat();
        calls += 1;
        expect(outcome).toMatchObject({ ok: true, upstream: 'openai' });
        const leader = await leaderPod();
        return leader !== undefined && leader !== old ? leader : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    );
    measured.leaderTakeoverMs = performance.now() - start;
    expect(next).not.toBe(old);
    expect(calls).toBeGreaterThan(0);
    // The new leader serves the sidecar: a change made now reaches it.
    await kubectlOk(
      ['apply', '-f', '-'],
      policy({ overrides: [{ upstream: 'openai', state: 'forcedOpen' }] }),
    );
    measured.propagationMs.push(await untilAnsweredBy('anthropic', 60_000));
    await kubectlOk(['apply', '-f', '-'], policy());
    await untilAnsweredBy('openai', 60_000);
  });

  it('the webhook is unavailable: pods are still created (failurePolicy Ignore); the sidecar restarts on its last good policy', async () => {
    const deployment = `deployment/${RELEASE}-controller`;
    await kubectlOk(['scale', deployment, '-n', SYSTEM_NS, '--replicas=0']);
    await waitFor('no controller pods', async () =>
      (await jsonpath(['get', 'pods', '-n', SYSTEM_NS], '{.items[*].metadata.name}')) === ''
        ? true
        : undefined,
    );
    await kubectlOk(['apply', '-f', '-'], appPod('uninjected'));
    const inits = await jsonpath(
      ['get', 'pod', 'uninjected', '-n', APP_NS],
      '{.spec.initContainers[*].name}',
    );
    expect(inits).not.toContain(SIDECAR);
    // With no controller at all, the injected app keeps working on its last good policy,
    // even across a restart of the sidecar: it reloads that policy from its state volume.
    expect(await app.chat()).toMatchObject({ ok: true, upstream: 'openai' });
    const before = await sidecarStatus('app');
    await kubectlOk(['exec', 'app', '-n', APP_NS, '-c', SIDECAR, '--', 'bash', '-c', 'kill 1']);
    await waitFor('the sidecar to restart and be ready', async () => {
      const now = await sidecarStatus('app');
      const ready = await jsonpath(
        ['get', 'pod', 'app', '-n', APP_NS],
        `{.status.initContainerStatuses[?(@.name=="${SIDECAR}")].ready}`,
      );
      return now.restartCount === before.restartCount + 1 && ready === 'true' ? true : undefined;
    });
    expect(await app.chat()).toMatchObject({ ok: true, upstream: 'openai' });
    await kubectlOk(['delete', 'pod', 'uninjected', '-n', APP_NS, '--wait=false']);
    await kubectlOk(['scale', deployment, '-n', SYSTEM_NS, '--replicas=2']);
    await kubectlOk(['rollout', 'status', deployment, '-n', SYSTEM_NS, '--timeout=120s']);
    await waitFor('a leader pod', leaderPod, { timeoutMs: 60_000 });
  });

  it('helm upgrade, then helm uninstall leave the cluster clean', async () => {
    await helmOk([
      'upgrade',
      RELEASE,
      CHART,
      '--namespace',
      SYSTEM_NS,
      '--reuse-values',
      '--set',
      'controller.logLevel=debug',
      '--wait',
      '--timeout',
      '3m',
    ]);
    expect(await app.chat()).toMatchObject({ ok: true, upstream: 'openai' });
    await helmOk(['uninstall', RELEASE, '--namespace', SYSTEM_NS, '--wait', '--timeout', '3m']);

    const selector = `app.kubernetes.io/instance=${RELEASE}`;
    const kinds =
      'deployments,replicasets,pods,services,secrets,configmaps,serviceaccounts,roles,rolebindings,' +
      'poddisruptionbudgets,clusterroles,clusterrolebindings,mutatingwebhookconfigurations';
    const left = await waitFor('the release objects to be gone', async () => {
      const out = await kubectlOk(['get', kinds, '-A', '-l', selector, '-o', 'name']);
      return out.trim() === '' ? out : undefined;
    });
    expect(left.trim()).toBe('');
    // Pods created now are left alone, and the running sidecar keeps its last good policy.
    await kubectlOk(['apply', '-f', '-'], appPod('after-uninstall'));
    expect(
      await jsonpath(
        ['get', 'pod', 'after-uninstall', '-n', APP_NS],
        '{.spec.initContainers[*].name}',
      ),
    ).toBe('');
    expect(await app.chat()).toMatchObject({ ok: true, upstream: 'openai' });
  });
});

function writeResults(): void {
  if (!env.available || measured.firstInjectedPodReadyMs === undefined) return;
  const mb = (bytes: number | undefined) =>
    bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  const s = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);
  const { image } = env;
  const lines = [
    '# End-to-end measurements on a real single-node cluster',
    '',
    'Written by `npm run test:e2e` (test/e2e/user-story.test.ts) on its last run: kubelet 1.34,',
    'containerd 1.6 and runc from Debian, kube-proxy (iptables), CoreDNS, on one 2-core machine that',
    "also runs the whole control plane. The product image is built from the repository's Dockerfile",
    'with buildah on a locally assembled `node:<v>-bookworm-slim`.',
    '',
    `Run: ${new Date().toISOString()}`,
    '',
    '| What | Measured |',
    '| --- | --- |',
    `| Product image (uncompressed, as buildah reports it) | ${image.size} (archive ${(image.archiveBytes / 1e6).toFixed(0)} MB) |`,
    `| Image build (buildah, layer cache of earlier runs) | ${image.buildSeconds.toFixed(0)} s |`,
    `| Cluster up (cluster-up.sh, binaries cached) | ${s((measured.clusterUpSeconds ?? 0) * 1000)} |`,
    `| Image import into containerd (product + app) | ${s((measured.imageImportSeconds ?? 0) * 1000)} |`,
    `| First injected pod Ready (kubectl apply to Ready: injection, sidecar start, policy delivered) | ${s(measured.firstInjectedPodReadyMs)} |`,
    `| Sidecar at rest: working set (kubelet /stats/summary) | ${mb(measured.sidecarAtRest?.kubeletWorkingSetBytes)} |`,
    `| Sidecar at rest: RSS (kubelet) | ${mb(measured.sidecarAtRest?.kubeletRssBytes)} |`,
    `| Sidecar at rest: working set (memory cgroup) | ${mb(measured.sidecarAtRest?.cgroupWorkingSetBytes)} |`,
    `| Sidecar under load: peak working set (memory cgroup, sampled every 100 ms) | ${mb(measured.sidecarUnderLoad?.peakCgroupWorkingSetBytes)} |`,
    `| Sidecar right after the load: working set (kubelet) | ${mb(measured.sidecarUnderLoad?.kubeletWorkingSetBytes)} |`,
    `| The load | ${measured.sidecarUnderLoad === undefined ? 'n/a' : `${measured.sidecarUnderLoad.requests} chat completions through the openai SDK, ${measured.sidecarUnderLoad.concurrency} at a time, in ${measured.sidecarUnderLoad.seconds.toFixed(1)} s`} |`,
    `| Policy propagation, kubectl apply to enforcement seen by the app (each change) | ${measured.propagationMs.map((ms) => s(ms)).join(', ') || 'n/a'} |`,
    `| Leader pod deleted to another pod leading | ${s(measured.leaderTakeoverMs)} |`,
    '',
    'Propagation is measured from the moment `kubectl apply` returns until the app, polling every',
    '100 ms, sees its calls answered according to the new policy (forced open, then closed again);',
    'the third value is the same change after a leader failover.',
    '',
  ];
  writeFileSync(join(REPO_ROOT, 'bench', 'e2e-results.md'), lines.join('\n'));
}
