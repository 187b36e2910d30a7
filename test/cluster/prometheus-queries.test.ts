// Every PromQL expression of docs/ and of the chart's Grafana dashboard, evaluated by a real
// Prometheus (Debian's package, as a process) that scrapes real sidecars and a real controller
// through the scrape configuration the Prometheus Operator generates from the chart's own
// PodMonitor and ServiceMonitor. Two namespaces run one sidecar each, with the same upstream
// names: in `a` two circuits (openai/chat, openai/embeddings) stay open; in `b` openai/chat has
// two ended outages (one probe failing in between) and openai/embeddings one, whose 1h increase
// is 0 (the case that used to draw NaN). Each expression must return exactly the series it is
// written to show, with no NaN and no `exported_endpoint` (the operator's `endpoint` target
// label must not rename the sidecar's endpoint class).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthenticationV1TokenRequest, V1Pod, V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Controller } from '../../src/controlplane/build-controller.ts';
import type { KubeClients } from '../../src/controlplane/kube/kube-client.ts';
import { PROTOCOL_PATHS, SCHEMA_VERSION_HEADER } from '../../src/snapshot/sidecar-protocol.ts';
import { SNAPSHOT_SCHEMA_VERSION } from '../../src/snapshot/snapshot.ts';
import { startFakeProvider, type FakeProvider } from '../support/fake-provider.ts';
import { REPO_ROOT } from '../support/fixtures.ts';
import { freePort } from '../support/free-port.ts';
import { connect, kubeTestenv, type Cluster } from '../support/kube-testenv/cluster.ts';
import {
  labelMeta,
  podMonitorScrapeConfigs,
  prometheusBinary,
  serviceMonitorScrapeConfigs,
  startPrometheus,
  type DiscoveredTarget,
  type PrometheusServer,
  type Sample,
} from '../support/prometheus.ts';
import { startSidecarProcess, type SidecarProcess } from '../support/sidecar-process.ts';
import {
  applyPolicy,
  createSidecarAccount,
  podTokenFile,
  startLeadingController,
  waitFor,
} from './controller-harness.ts';
import { helmFor, one, type KubeObject } from './install/install-helpers.ts';
import { clientsFor, deletePolicies, installCrd } from './kube/kube-helpers.ts';

const env = kubeTestenv();
const prometheus = prometheusBinary();
const TITLE =
  'PromQL of the docs and the dashboard on a real Prometheus behind the chart’s monitors';
const available = env.available && prometheus.available;
const prometheusPath = prometheus.available ? prometheus.path : '';
const skipReason = !env.available ? env.reason : prometheus.available ? '' : prometheus.reason;

const RELEASE = 'aicb';
const DASHBOARD = join(REPO_ROOT, 'charts/ai-circuit-breaker/dashboards/ai-circuit-breaker.json');

/** What one expression must return. */
type Expectation =
  /** Exactly these series, compared on the labels named in them (`[]`: no series). */
  | { readonly exactly: readonly Record<string, string>[]; readonly value?: (v: number) => boolean }
  /** At least these series and none of `without` (for expressions over every circuit). */
  | {
      readonly includes: readonly Record<string, string>[];
      readonly without: readonly Record<string, string>[];
    };

/** Every PromQL expression in docs/ (inline code naming a metric, not `metric{label,label}` notation). */
function docQueries(): string[] {
  const found = new Set<string>();
  const docs = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).map((f) => `docs/${f}`)];
  for (const doc of docs.filter((d) => d.endsWith('.md'))) {
    for (const line of readFileSync(join(REPO_ROOT, doc), 'utf8').split('\n')) {
      if (doc === 'docs/metrics.md' && line.startsWith('| `')) continue;
      for (const [, code = ''] of line.matchAll(/`([^`]+)`/g)) {
        if (!/\b(?:aicb|circuit_breaker)_[a-z_]+/.test(code)) continue;
        if (!/\(|==|>|<|\{/.test(code)) continue;
        // `aicb_retries_total{result}` names labels, `{provider="..."}` is a placeholder.
        if (/\{[a-z_,]+\}/.test(code) || code.includes('...')) continue;
        found.add(code);
      }
    }
  }
  return [...found];
}

/** Every target expression of the dashboard, with `$namespace` as "all". */
function dashboardQueries(): string[] {
  const out: string[] = [];
  const walk = (panels: { panels?: unknown[]; targets?: { expr?: string }[] }[]) => {
    for (const p of panels) {
      if (p.panels !== undefined) walk(p.panels as typeof panels);
      for (const t of p.targets ?? []) if (t.expr !== undefined) out.push(t.expr);
    }
  };
  walk(
    (
      JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
        panels: typeof out extends never
          ? never
          : { panels?: unknown[]; targets?: { expr?: string }[] }[];
      }
    ).panels,
  );
  return out.map((e) => e.replaceAll('$namespace', '.*'));
}

describe.skipIf(!available)(available ? TITLE : `${TITLE} (skipped: ${skipReason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let releaseNs: string;
  let nsA: string;
  let nsB: string;
  let dir: string;
  let controller: Controller;
  let deliveryUrl: string;
  let prom: PrometheusServer;
  const providers: FakeProvider[] = [];
  const sidecars: Record<'a' | 'b', SidecarProcess | undefined> = { a: undefined, b: undefined };
  const adminPorts = { a: 0, b: 0 };
  let primaryA: FakeProvider;
  let backupA: FakeProvider;
  let primaryB: FakeProvider;
  let backupB: FakeProvider;

  const sidecar = (which: 'a' | 'b'): SidecarProcess => {
    const sc = sidecars[which];
    if (sc === undefined) throw new Error(`no sidecar ${which}`);
    return sc;
  };
  const call = (sc: SidecarProcess, endpoint: 'chat' | 'embeddings'): Promise<Response> =>
    fetch(`${sc.proxyUrl}/openai/v1/${endpoint === 'chat' ? 'chat/completions' : 'embeddings'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-app' },
      body: JSON.stringify(
        endpoint === 'chat'
          ? { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }
          : { model: 'text-embedding-3-small', input: 'hi' },
      ),
    });
  const stateOf = async (sc: SidecarProcess, endpoint: string) =>
    (await sc.health()).endpoints.openai?.[endpoint]?.[0]?.state;
  const policySpec = (primary: FakeProvider, backup: FakeProvider, recoveryTimeout: string) => ({
    podSelector: { matchLabels: { app: 'chat' } },
    upstreams: [
      { name: 'openai', provider: 'openai', baseURL: primary.url },
      {
        name: 'backup',
        provider: 'openai-compatible',
        baseURL: backup.url,
        apiKey: { secretKeyRef: { name: 'backup', key: 'api-key' } },
      },
    ],
    breaker: { failureThreshold: 1, recoveryTimeout, successThreshold: 1 },
    fallbacks: [{ from: 'openai', to: [{ upstream: 'backup' }] }],
    // A retry after the first failure meets the circuit that failure opened (circuit_open).
    retry: { attempts: 1 },
  });

  /** A pod as injected: the sidecar a native sidecar (init container) with port aicb-admin. */
  async function injectedPod(namespace: string, name: string, adminPort: number): Promise<V1Pod> {
    return clients.core.createNamespacedPod({
      namespace,
      body: Object.assign(new V1Pod(), {
        metadata: { name, labels: { app: 'chat', 'aicircuit.io/injected': 'true' } },
        spec: {
          serviceAccountName: 'sidecar',
          initContainers: [
            {
              name: 'aicb-sidecar',
              image: 'registry.example/aicb:1',
              restartPolicy: 'Always',
              ports: [{ name: 'aicb-admin', containerPort: adminPort }],
            },
          ],
          containers: [{ name: 'app', image: 'registry.example/app:1' }],
        },
      }),
    });
  }

  /** The labels pod discovery gives the sidecar's admin port (from the stored object). */
  function podTarget(pod: V1Pod, port: number): DiscoveredTarget {
    return {
      address: `127.0.0.1:${port}`,
      meta: {
        __meta_kubernetes_namespace: pod.metadata?.namespace ?? '',
        __meta_kubernetes_pod_name: pod.metadata?.name ?? '',
        __meta_kubernetes_pod_phase: pod.status?.phase ?? 'Pending',
        __meta_kubernetes_pod_container_name: 'aicb-sidecar',
        __meta_kubernetes_pod_container_init: 'true',
        __meta_kubernetes_pod_container_port_name: 'aicb-admin',
        __meta_kubernetes_pod_container_port_number: String(port),
        ...labelMeta('pod', pod.metadata?.labels),
      },
    };
  }

  /** The labels endpoints discovery gives each named port of a rendered Service, at the controller. */
  function serviceTargets(service: KubeObject, port: number): DiscoveredTarget[] {
    const ports = ((service.spec as { ports?: { name: string }[] }).ports ?? []).map((p) => p.name);
    return ports.map((name) => ({
      address: `127.0.0.1:${port}`,
      meta: {
        __meta_kubernetes_namespace: service.metadata.namespace ?? releaseNs,
        __meta_kubernetes_service_name: service.metadata.name,
        __meta_kubernetes_endpoint_port_name: name,
        __meta_kubernetes_endpoint_address_target_kind: 'Pod',
        __meta_kubernetes_endpoint_address_target_name: 'aicb-controller-0',
        __meta_kubernetes_pod_name: 'aicb-controller-0',
        __meta_kubernetes_pod_container_name: 'controller',
        __meta_kubernetes_pod_phase: 'Running',
        ...labelMeta('service', service.metadata.labels),
      },
    }));
  }

  beforeAll(async () => {
    if (!available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
    releaseNs = await cluster.createNamespace('prom-system');
    nsA = await cluster.createNamespace('prom-a');
    nsB = await cluster.createNamespace('prom-b');
    dir = mkdtempSync(join(tmpdir(), 'aicb-prom-'));
    primaryA = await startFakeProvider({ api: 'openai' });
    backupA = await startFakeProvider({ api: 'openai' });
    primaryB = await startFakeProvider({ api: 'openai' });
    backupB = await startFakeProvider({ api: 'openai' });
    providers.push(primaryA, backupA, primaryB, backupB);

    // The chart's own monitors, as rendered for a cluster that serves monitoring.coreos.com/v1.
    const rendered = await helmFor(env).template(RELEASE, releaseNs, [
      '--api-versions',
      'monitoring.coreos.com/v1',
      '--set',
      'podMonitor.enabled=true',
      '--set',
      'serviceMonitor.enabled=true',
    ]);
    const podMonitor = one(rendered, 'PodMonitor');
    const serviceMonitor = one(rendered, 'ServiceMonitor');

    const adminPort = await freePort();
    ({ controller, deliveryUrl } = await startLeadingController(
      clients,
      releaseNs,
      'aicb-controller-0',
      { admin: { host: '127.0.0.1', port: adminPort } },
    ));
    const pods: V1Pod[] = [];
    for (const [which, ns] of [
      ['a', nsA],
      ['b', nsB],
    ] as const) {
      await createSidecarAccount(clients, ns);
      await clients.core.createNamespacedSecret({
        namespace: ns,
        body: Object.assign(new V1Secret(), {
          metadata: { name: 'backup' },
          stringData: { 'api-key': 'sk-backup' },
        }),
      });
      adminPorts[which] = await freePort();
      pods.push(await injectedPod(ns, 'chat-0', adminPorts[which]));
    }
    // Prometheus first, so every series is seen from its first value (rates need two samples).
    const services = rendered.filter((o) => o.kind === 'Service');
    prom = await startPrometheus(prometheusPath, [
      ...podMonitorScrapeConfigs(
        podMonitor,
        pods.map((p, i) => podTarget(p, i === 0 ? adminPorts.a : adminPorts.b)),
        { interval: '1s' },
      ),
      ...serviceMonitorScrapeConfigs(
        serviceMonitor,
        services.flatMap((s) => serviceTargets(s, adminPort)),
        { interval: '1s' },
      ),
    ]);
    await waitFor('the controller scraped', async () =>
      (await prom.query('aicb_controller_leader')).length > 0 ? true : undefined,
    );

    await applyPolicy(cluster, nsA, 'egress', policySpec(primaryA, backupA, '60s'));
    await applyPolicy(cluster, nsB, 'egress', policySpec(primaryB, backupB, '1s'));
    for (const [i, which, ns] of [
      [0, 'a', nsA],
      [1, 'b', nsB],
    ] as const) {
      const uid = pods[i]?.metadata?.uid ?? '';
      const token = await podTokenFile(clients, dir, ns, { name: 'chat-0', uid });
      sidecars[which] = await startSidecarProcess([
        '--controller',
        deliveryUrl,
        '--token-file',
        token,
        '--state-dir',
        join(dir, which),
        '--admin-port',
        String(adminPorts[which]),
      ]);
    }
    await waitFor('both sidecars on their policy', async () => {
      const hashes = await Promise.all([sidecar('a').readyHash(), sidecar('b').readyHash()]);
      return hashes.every((h) => h !== undefined) ? true : undefined;
    });

    // A pod that was never injected presents a valid pod-bound token: refused, and counted.
    const plain = await clients.core.createNamespacedPod({
      namespace: nsA,
      body: Object.assign(new V1Pod(), {
        metadata: { name: 'plain', labels: { app: 'chat' } },
        spec: {
          serviceAccountName: 'sidecar',
          containers: [{ name: 'app', image: 'registry.example/app:1' }],
        },
      }),
    });
    const plainToken = await clients.core.createNamespacedServiceAccountToken({
      name: 'sidecar',
      namespace: nsA,
      body: Object.assign(new AuthenticationV1TokenRequest(), {
        spec: {
          audiences: ['aicircuit.io'],
          boundObjectRef: {
            apiVersion: 'v1',
            kind: 'Pod',
            name: 'plain',
            uid: plain.metadata?.uid ?? '',
          },
        },
      }),
    });
    const refused = await fetch(`${deliveryUrl}${PROTOCOL_PATHS.stream}`, {
      headers: {
        authorization: `Bearer ${plainToken.status?.token ?? ''}`,
        [SCHEMA_VERSION_HEADER]: String(SNAPSHOT_SCHEMA_VERSION),
      },
    });
    expect(refused.status).toBe(403);

    // Namespace a: openai fails, so chat and embeddings open there and the backup answers.
    primaryA.setDefault({ type: 'status', status: 503 });
    for (const endpoint of ['chat', 'embeddings', 'chat'] as const)
      expect((await call(sidecar('a'), endpoint)).status).toBe(200);

    // Namespace b: one embeddings outage, then two chat outages with a failed probe between.
    const outage = async (endpoint: 'chat' | 'embeddings', failProbeFirst: boolean) => {
      primaryB.setDefault({ type: 'status', status: 503 });
      expect((await call(sidecar('b'), endpoint)).status).toBe(200);
      if (failProbeFirst) {
        await waitFor('half-open', async () =>
          (await stateOf(sidecar('b'), endpoint)) === 'half_open' ? true : undefined,
        );
        await call(sidecar('b'), endpoint);
      }
      primaryB.setDefault({ type: 'ok' });
      await waitFor(`${endpoint} closed again`, async () => {
        if ((await stateOf(sidecar('b'), endpoint)) === 'closed') return true;
        await call(sidecar('b'), endpoint);
        await new Promise((r) => setTimeout(r, 200));
        return undefined;
      });
    };
    // Counted over the namespace, not by endpoint label: with the label collision this wait
    // would time out instead of the assertions below saying what is wrong.
    const scrapedOutages = (count: number) =>
      waitFor(`${count} ended outage(s) scraped`, async () => {
        const [s] = await prom.query(
          `sum(aicb_circuit_open_duration_seconds_count{namespace="${nsB}"})`,
        );
        return s?.value === count ? true : undefined;
      });
    await outage('embeddings', false);
    await outage('chat', false);
    await scrapedOutages(2);
    await outage('chat', true);
    await scrapedOutages(3);
    // Two more scrapes, so every rate sees the final counts.
    await new Promise((r) => setTimeout(r, 2500));
  }, 120_000);

  afterAll(async () => {
    if (!available) return;
    for (const s of Object.values(sidecars)) await s?.stop('SIGKILL');
    await prom.stop();
    await controller.stop().catch(() => undefined);
    for (const p of providers) await p.close();
    await deletePolicies(cluster, [nsA, nsB]);
    rmSync(dir, { recursive: true, force: true });
  });

  const positive = (v: number) => v > 0;
  const share = (v: number) => v > 0 && v <= 1;

  /** The expectations, by expression; every expression found must have one and vice versa. */
  const expectations = (): Record<string, Expectation> => {
    const ns = (which: 'a' | 'b') => (which === 'a' ? nsA : nsB);
    const circuit = (which: 'a' | 'b', endpoint: string, provider = 'openai') => ({
      namespace: ns(which),
      provider,
      endpoint,
    });
    const zeroOrMore = (v: number) => v >= 0;
    const dashboard = (expr: string) => expr.replaceAll('$namespace', '.*');
    return {
      // ---- docs/metrics.md, docs/runbook.md, docs/troubleshooting.md, docs/sidecar.md, docs/controller.md
      'circuit_breaker_state == 1': {
        exactly: [circuit('a', 'chat'), circuit('a', 'embeddings')],
        value: (v) => v === 1,
      },
      'circuit_breaker_state == 0': {
        includes: [
          circuit('b', 'chat'),
          circuit('b', 'embeddings'),
          circuit('a', 'chat', 'backup'),
        ],
        without: [circuit('a', 'chat'), circuit('a', 'embeddings')],
      },
      'sum by (provider) (rate(circuit_breaker_failures_total[5m])) / (sum by (provider) (rate(aicb_upstream_duration_seconds_count[5m])) > 0)':
        { exactly: [{ provider: 'openai' }], value: share },
      'sum(rate(aicb_requests_total{result="fallback"}[5m])) / (sum(rate(aicb_requests_total[5m])) > 0)':
        { exactly: [{}], value: share },
      'sum by (provider) (rate(aicb_short_circuited_total[5m]))': {
        exactly: [{ provider: 'openai' }],
        value: positive,
      },
      'sum by (model) (rate(aicb_cost_usd_total[1h])) * 3600': {
        // Embeddings were called before their series' first sample only: a rate of 0.
        exactly: [{ model: 'gpt-4o' }, { model: 'text-embedding-3-small' }],
        value: zeroOrMore,
      },
      // The backup charges what openai would have (same model): no extra cost, but a value.
      'sum(increase(aicb_fallback_cost_usd_total[1d])) - sum(increase(aicb_fallback_requested_cost_usd_total[1d]))':
        { exactly: [{}], value: (v) => v === 0 },
      'sum by (provider) (increase(aicb_wait_avoided_seconds_total[1h]))': {
        exactly: [{ provider: 'openai' }],
        value: positive,
      },
      'sum by (result) (rate(aicb_retries_total[5m]))': {
        exactly: [{ result: 'circuit_open' }],
        value: positive,
      },
      // docs/metrics.md's release note for the upstream -> provider label rename: the old grouping
      // finds no such label and folds everything into one unlabelled series, the new one splits.
      'sum by (upstream) (rate(aicb_requests_total[5m]))': { exactly: [{}], value: positive },
      'sum by (provider) (rate(aicb_requests_total[5m]))': {
        exactly: [{ provider: 'openai' }],
        value: positive,
      },
      'sum by (namespace, provider, endpoint) (increase(aicb_circuit_openings_total[1d]))': {
        exactly: [
          circuit('a', 'chat'),
          circuit('a', 'embeddings'),
          circuit('b', 'chat'),
          circuit('b', 'embeddings'),
        ],
        value: zeroOrMore,
      },
      // Only b's chat circuit had an outage end inside the window's samples; b's embeddings
      // outage ended before its series' first sample (increase 0), a's never ended.
      'histogram_quantile(0.9, sum by (le, namespace, provider, endpoint) (rate(aicb_circuit_open_duration_seconds_bucket[1d])) and on (namespace, provider, endpoint) (sum by (namespace, provider, endpoint) (rate(aicb_circuit_open_duration_seconds_count[1d])) > 0))':
        { exactly: [circuit('b', 'chat')], value: positive },
      'sum by (namespace, provider, endpoint) (rate(aicb_circuit_open_duration_seconds_sum[1d])) / (sum by (namespace, provider, endpoint) (rate(aicb_circuit_open_duration_seconds_count[1d])) > 0)':
        { exactly: [circuit('b', 'chat')], value: positive },
      'sum by (provider, reason) (rate(circuit_breaker_failures_total[5m]))': {
        exactly: [{ provider: 'openai', reason: 'server_error' }],
        value: positive,
      },
      'increase(aicb_circuit_open_duration_seconds_count[15m]) > 0': {
        exactly: [{ ...circuit('b', 'chat'), pod: 'chat-0', container: 'aicb-sidecar' }],
      },
      'rate(circuit_breaker_state_changes_total[15m])': {
        includes: [
          { namespace: ns('a'), provider: 'openai', from_state: 'closed', to_state: 'open' },
          { namespace: ns('b'), provider: 'openai', from_state: 'open', to_state: 'half_open' },
          { namespace: ns('b'), provider: 'openai', from_state: 'half_open', to_state: 'open' },
          { namespace: ns('b'), provider: 'openai', from_state: 'half_open', to_state: 'closed' },
        ],
        without: [{ provider: 'backup' }],
      },
      // Nothing was skipped (every target had credentials and a model).
      'aicb_fallbacks_total{result=~"skipped_.*"}': { exactly: [] },
      // The controller sends the alerts in a cluster (this policy has no receivers: zeros).
      'aicb_alerts_total{result="failed"}': {
        exactly: [
          { target: 'slack', pod: 'aicb-controller-0' },
          { target: 'webhook', pod: 'aicb-controller-0' },
        ],
        value: (v) => v === 0,
      },
      'aicb_alerts_suppressed_total{reason="duplicate"}': {
        exactly: [{ pod: 'aicb-controller-0', service: `${RELEASE}-ai-circuit-breaker-metrics` }],
        value: (v) => v === 0,
      },
      'aicb_controller_auth_failures_total{reason="not_injected"}': {
        exactly: [{ pod: 'aicb-controller-0', namespace: releaseNs }],
        value: (v) => v === 1,
      },

      // ---- the dashboard
      [dashboard(
        'count(max by (namespace, provider, endpoint) (circuit_breaker_state{namespace=~"$namespace"}) == 1) or vector(0)',
      )]: { exactly: [{}], value: (v) => v === 2 },
      [dashboard(
        'sum(rate(aicb_requests_total{namespace=~"$namespace", result="fallback"}[5m])) / (sum(rate(aicb_requests_total{namespace=~"$namespace"}[5m])) > 0)',
      )]: { exactly: [{}], value: share },
      [dashboard('sum(rate(aicb_short_circuited_total{namespace=~"$namespace"}[5m]))')]: {
        exactly: [{}],
        value: positive,
      },
      'max(aicb_controller_leader) or vector(0)': { exactly: [{}], value: (v) => v === 1 },
      [dashboard(
        'max by (namespace, provider, endpoint) (circuit_breaker_state{namespace=~"$namespace"})',
      )]: {
        // Two namespaces x two upstreams x six endpoint classes, each circuit its own series.
        exactly: ['a', 'b'].flatMap((which) =>
          ['openai', 'backup'].flatMap((provider) =>
            ['chat', 'embeddings', 'images', 'audio', 'responses', 'other'].map((endpoint) =>
              circuit(which as 'a' | 'b', endpoint, provider),
            ),
          ),
        ),
        value: (v) => v === 0 || v === 1,
      },
      [dashboard(
        'sum by (provider) (rate(circuit_breaker_failures_total{namespace=~"$namespace"}[5m]))',
      )]: { exactly: [{ provider: 'openai' }], value: positive },
      [dashboard(
        'sum by (provider) (rate(circuit_breaker_failures_total{namespace=~"$namespace"}[5m])) / (sum by (provider) (rate(aicb_upstream_duration_seconds_count{namespace=~"$namespace"}[5m])) > 0)',
      )]: { exactly: [{ provider: 'openai' }], value: share },
      [dashboard(
        'sum by (provider, reason) (rate(circuit_breaker_failures_total{namespace=~"$namespace"}[5m]))',
      )]: { exactly: [{ provider: 'openai', reason: 'server_error' }], value: positive },
      // The panels that showed NaN for circuits without an ended outage now show only b/chat.
      [dashboard(
        'sum by (namespace, provider, endpoint) (increase(aicb_circuit_open_duration_seconds_sum{namespace=~"$namespace"}[1h])) / (sum by (namespace, provider, endpoint) (increase(aicb_circuit_open_duration_seconds_count{namespace=~"$namespace"}[1h])) > 0)',
      )]: { exactly: [circuit('b', 'chat')], value: positive },
      [dashboard(
        'histogram_quantile(0.95, sum by (le, namespace, provider, endpoint) (increase(aicb_circuit_open_duration_seconds_bucket{namespace=~"$namespace"}[1h])) and on (namespace, provider, endpoint) (sum by (namespace, provider, endpoint) (increase(aicb_circuit_open_duration_seconds_count{namespace=~"$namespace"}[1h])) > 0))',
      )]: { exactly: [circuit('b', 'chat')], value: positive },
      [dashboard(
        'sum by (provider) (increase(circuit_breaker_state_changes_total{namespace=~"$namespace", from_state="half_open", to_state="closed"}[5m]))',
      )]: { exactly: [{ provider: 'openai' }], value: positive },
      // b's one failed probe created the series: its first sample is no increase yet.
      [dashboard(
        'sum by (provider) (increase(circuit_breaker_state_changes_total{namespace=~"$namespace", from_state="half_open", to_state="open"}[5m]))',
      )]: { exactly: [{ provider: 'openai' }], value: zeroOrMore },
      [dashboard(
        'histogram_quantile(0.95, sum by (le, provider, outcome) (rate(aicb_upstream_duration_seconds_bucket{namespace=~"$namespace"}[5m])) and on (provider, outcome) (sum by (provider, outcome) (rate(aicb_upstream_duration_seconds_count{namespace=~"$namespace"}[5m])) > 0))',
      )]: {
        exactly: [
          { provider: 'openai', outcome: 'failure' },
          { provider: 'openai', outcome: 'success' },
          { provider: 'backup', outcome: 'success' },
        ],
        value: positive,
      },
      [dashboard(
        'sum by (provider) (rate(aicb_requests_total{namespace=~"$namespace", result="fallback"}[5m])) / (sum by (provider) (rate(aicb_requests_total{namespace=~"$namespace"}[5m])) > 0)',
      )]: { exactly: [{ provider: 'openai' }], value: share },
      [dashboard(
        'sum by (provider, result) (rate(aicb_requests_total{namespace=~"$namespace"}[5m]))',
      )]: {
        exactly: [
          { provider: 'openai', result: 'fallback' },
          { provider: 'openai', result: 'ok' },
        ],
        value: positive,
      },
      [dashboard(
        'sum by (provider, reason) (rate(aicb_short_circuited_total{namespace=~"$namespace"}[5m]))',
      )]: { exactly: [{ provider: 'openai', reason: 'open' }], value: positive },
      [dashboard(
        'sum by (from, to, result) (rate(aicb_fallbacks_total{namespace=~"$namespace"}[5m]))',
      )]: { exactly: [{ from: 'openai', to: 'backup', result: 'success' }], value: positive },
      [dashboard('sum(increase(aicb_cost_usd_total{namespace=~"$namespace"}[24h])) or vector(0)')]:
        { exactly: [{}], value: positive },
      [dashboard(
        '(sum(increase(aicb_fallback_cost_usd_total{namespace=~"$namespace"}[24h])) or vector(0)) - (sum(increase(aicb_fallback_requested_cost_usd_total{namespace=~"$namespace"}[24h])) or vector(0))',
      )]: { exactly: [{}], value: (v) => v === 0 },
      [dashboard(
        'sum(increase(aicb_wait_avoided_seconds_total{namespace=~"$namespace"}[24h])) or vector(0)',
      )]: { exactly: [{}], value: positive },
      [dashboard(
        'round(sum(increase(aicb_circuit_openings_total{namespace=~"$namespace"}[24h]))) or vector(0)',
      )]: { exactly: [{}], value: zeroOrMore },
      [dashboard(
        'sum by (provider, model) (rate(aicb_cost_usd_total{namespace=~"$namespace"}[5m])) * 3600',
      )]: {
        exactly: ['openai', 'backup'].flatMap((provider) =>
          ['gpt-4o', 'text-embedding-3-small'].map((model) => ({ provider, model })),
        ),
        value: zeroOrMore,
      },
      [dashboard(
        '(sum by (from, to) (rate(aicb_fallback_cost_usd_total{namespace=~"$namespace"}[5m])) - sum by (from, to) (rate(aicb_fallback_requested_cost_usd_total{namespace=~"$namespace"}[5m]))) * 3600',
      )]: { exactly: [{ from: 'openai', to: 'backup' }], value: (v) => v === 0 },
      [dashboard(
        'sum by (provider, model, kind) (rate(aicb_tokens_total{namespace=~"$namespace"}[5m]))',
      )]: {
        exactly: ['openai', 'backup'].flatMap((provider) =>
          ['gpt-4o', 'text-embedding-3-small'].flatMap((model) =>
            ['input', 'output'].map((kind) => ({ provider, model, kind })),
          ),
        ),
        value: zeroOrMore,
      },
      [dashboard(
        'sum by (provider) (increase(aicb_wait_avoided_seconds_total{namespace=~"$namespace"}[5m]))',
      )]: { exactly: [{ provider: 'openai' }], value: positive },
      [dashboard(
        'sum by (namespace, provider, endpoint) (increase(aicb_circuit_openings_total{namespace=~"$namespace"}[5m]))',
      )]: {
        exactly: [
          circuit('a', 'chat'),
          circuit('a', 'embeddings'),
          circuit('b', 'chat'),
          circuit('b', 'embeddings'),
        ],
        value: zeroOrMore,
      },
      [dashboard(
        'sum by (provider, result) (rate(aicb_retries_total{namespace=~"$namespace"}[5m]))',
      )]: { exactly: [{ provider: 'openai', result: 'circuit_open' }], value: positive },
      // One scrape of the leader through the metrics Service, not two (the delivery Service
      // also has a port named metrics, and the ServiceMonitor must not select it).
      'sum(aicb_controller_stream_clients)': { exactly: [{}], value: (v) => v === 2 },
      'histogram_quantile(0.95, sum by (le) (rate(aicb_controller_propagation_seconds_bucket[5m])) and on () (sum(rate(aicb_controller_propagation_seconds_count[5m])) > 0))':
        { exactly: [{}], value: positive },
      // Acks come when a snapshot is delivered: whether one falls between two scrapes depends on
      // timing (all of them may precede the first scrape), so the rate may be 0; the series must be
      // there, and only for accepted snapshots.
      'sum by (result) (rate(aicb_controller_acks_total[5m]))': {
        exactly: [{ result: 'accepted' }],
        value: zeroOrMore,
      },
    };
  };

  it('finds an expectation for every expression and an expression for every expectation', () => {
    const all = [...new Set([...docQueries(), ...dashboardQueries()])];
    expect(all.length).toBeGreaterThan(40);
    expect(all.filter((e) => !(e in expectations())).sort()).toEqual([]);
    expect(
      Object.keys(expectations())
        .filter((e) => !all.includes(e))
        .sort(),
    ).toEqual([]);
  });

  it('evaluates every expression to exactly its expected series, without NaN or exported_endpoint', async () => {
    const failures: string[] = [];
    const results: string[] = [];
    const all = [...new Set([...docQueries(), ...dashboardQueries()])];
    for (const expr of all) {
      const expectation = expectations()[expr];
      let samples: Sample[];
      try {
        samples = await prom.query(expr);
      } catch (error) {
        failures.push(`${expr}: ${(error as Error).message}`);
        continue;
      }
      results.push(
        `${expr}\n    -> ${samples.map((x) => `${JSON.stringify(x.metric)}=${x.value.toPrecision(3)}`).join('\n       ') || '(no series)'}`,
      );
      const problem =
        expectation === undefined ? 'no expectation written' : check(samples, expectation);
      if (problem !== undefined) failures.push(`${expr}\n    ${problem}`);
    }
    console.log(`PromQL results (${results.length} expressions):\n${results.join('\n')}`);
    expect(failures).toEqual([]);
  });
});

/** Why the samples do not meet the expectation, or undefined. */
function check(samples: readonly Sample[], expectation: Expectation): string | undefined {
  const nan = samples.filter((s) => Number.isNaN(s.value));
  if (nan.length > 0) return `NaN in ${JSON.stringify(nan.map((s) => s.metric))}`;
  const renamed = samples.filter((s) => 'exported_endpoint' in s.metric);
  if (renamed.length > 0) return `exported_endpoint in ${JSON.stringify(renamed[0]?.metric)}`;
  const project = (metric: Record<string, string>, keys: readonly string[]) =>
    JSON.stringify(Object.fromEntries(keys.map((k) => [k, metric[k] ?? null])));
  if ('exactly' in expectation) {
    const keys = Object.keys(expectation.exactly[0] ?? {});
    const got = samples.map((s) => project(s.metric, keys)).sort();
    const want = expectation.exactly.map((m) => project(m, keys)).sort();
    if (JSON.stringify(got) !== JSON.stringify(want))
      return `got ${got.join(' ')}, expected ${want.join(' ')} (values ${samples.map((s) => s.value).join(', ')})`;
    const bad = samples.filter(
      (s) => expectation.value !== undefined && !expectation.value(s.value),
    );
    if (bad.length > 0) return `unexpected values ${bad.map((s) => s.value).join(', ')}`;
    return undefined;
  }
  for (const want of expectation.includes) {
    const keys = Object.keys(want);
    if (!samples.some((s) => project(s.metric, keys) === project(want, keys)))
      return `missing ${JSON.stringify(want)}`;
  }
  for (const unwanted of expectation.without) {
    const keys = Object.keys(unwanted);
    if (samples.some((s) => project(s.metric, keys) === project(unwanted, keys)))
      return `unexpected ${JSON.stringify(unwanted)}`;
  }
  return undefined;
}
