// A real Prometheus server (Debian's `prometheus` package, run as a plain process on loopback)
// for the cluster tests, and the scrape configuration the Prometheus Operator generates from a
// PodMonitor or ServiceMonitor, so that what the chart's monitors do to labels is tested with
// Prometheus's own relabeling and PromQL engine.
//
// Targets are given the `__meta_kubernetes_*` labels Kubernetes service discovery would give
// them (from the real objects), through static_configs: the test API server runs no kubelet, so
// pods have no IP for discovery to find.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './free-port.ts';

/** Where the binary is: $PROMETHEUS, else `prometheus` on PATH (apt-get install prometheus). */
export function prometheusBinary():
  | { readonly available: true; readonly path: string }
  | { readonly available: false; readonly reason: string } {
  const path = process.env.PROMETHEUS ?? 'prometheus';
  const probe = spawnSync(path, ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return { available: true, path };
  const reason = `no Prometheus binary (${path}: ${probe.error?.message ?? probe.stderr}); apt-get install prometheus, or set PROMETHEUS`;
  // CI installs it (.ci/run): there, a missing binary is an error, not a skipped test.
  if (process.env.REQUIRE_PROMETHEUS === '1') throw new Error(reason);
  return { available: false, reason };
}

/** A relabel rule as Prometheus reads it. */
export type RelabelConfig = Record<string, unknown>;

/** One static target: its address and discovery labels. */
export interface DiscoveredTarget {
  readonly address: string;
  readonly meta: Readonly<Record<string, string>>;
}

export interface ScrapeConfig {
  readonly job_name: string;
  readonly [key: string]: unknown;
}

/** The operator's name sanitizing of label names in discovery labels (`a.io/b` -> `a_io_b`). */
export function sanitizeLabelName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** `__meta_kubernetes_<kind>_label_*` and `..._labelpresent_*` of an object's labels. */
export function labelMeta(kind: 'pod' | 'service', labels: Record<string, string> = {}) {
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    meta[`__meta_kubernetes_${kind}_label_${sanitizeLabelName(k)}`] = v;
    meta[`__meta_kubernetes_${kind}_labelpresent_${sanitizeLabelName(k)}`] = 'true';
  }
  return meta;
}

/** A monitor's `relabelings` (camelCase, as in the CRD) in Prometheus's spelling. */
function promRelabel(r: Record<string, unknown>): RelabelConfig {
  const keys: Record<string, string> = {
    sourceLabels: 'source_labels',
    targetLabel: 'target_label',
    separator: 'separator',
    regex: 'regex',
    modulus: 'modulus',
    replacement: 'replacement',
    action: 'action',
  };
  const out: RelabelConfig = {};
  for (const [k, v] of Object.entries(r)) {
    const key = keys[k];
    if (key === undefined) throw new Error(`relabeling field ${k} is not translated here`);
    out[key] = key === 'action' ? String(v).toLowerCase() : v;
  }
  return out;
}

/** matchLabels as the operator's keep rules (matchExpressions are not used by the chart). */
function selectorRules(
  kind: 'pod' | 'service',
  selector: Record<string, unknown>,
): RelabelConfig[] {
  if (selector.matchExpressions !== undefined)
    throw new Error('matchExpressions are not translated here');
  return Object.entries((selector.matchLabels ?? {}) as Record<string, string>).map(([k, v]) => ({
    action: 'keep',
    source_labels: [
      `__meta_kubernetes_${kind}_label_${sanitizeLabelName(k)}`,
      `__meta_kubernetes_${kind}_labelpresent_${sanitizeLabelName(k)}`,
    ],
    regex: `(${v});true`,
  }));
}

/** Targets in the monitor's namespaces only (`namespaceSelector`, as the SD config restricts). */
function inNamespaces(
  monitorNamespace: string,
  namespaceSelector: Record<string, unknown> | undefined,
  targets: readonly DiscoveredTarget[],
): DiscoveredTarget[] {
  if (namespaceSelector?.any === true) return [...targets];
  const names = (namespaceSelector?.matchNames as string[] | undefined) ?? [monitorNamespace];
  return targets.filter((t) => names.includes(t.meta.__meta_kubernetes_namespace ?? ''));
}

/** A PodMonitor or ServiceMonitor as rendered by the chart. */
export interface MonitorObject {
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec?: unknown;
}

const specOf = (monitor: MonitorObject) => (monitor.spec ?? {}) as Record<string, unknown>;

/**
 * What the operator (v0.7x-0.8x, pkg/prometheus/promcfg.go) generates for each
 * podMetricsEndpoint of a PodMonitor: honor_labels false, the selector and port as keep rules,
 * namespace/container/pod/job/endpoint target labels, then the monitor's own relabelings.
 */
export function podMonitorScrapeConfigs(
  monitor: MonitorObject,
  targets: readonly DiscoveredTarget[],
  overrides: { readonly interval: string },
): ScrapeConfig[] {
  const ns = monitor.metadata.namespace ?? 'default';
  const spec = specOf(monitor);
  const endpoints = spec.podMetricsEndpoints as Record<string, unknown>[];
  return endpoints.map((ep, i) => ({
    job_name: `podMonitor/${ns}/${monitor.metadata.name}/${i}`,
    honor_labels: ep.honorLabels ?? false,
    scrape_interval: overrides.interval,
    scrape_timeout: overrides.interval,
    metrics_path: ep.path ?? '/metrics',
    scheme: ep.scheme ?? 'http',
    static_configs: staticConfigs(
      inNamespaces(ns, spec.namespaceSelector as Record<string, unknown> | undefined, targets),
    ),
    relabel_configs: [
      { source_labels: ['job'], target_label: '__tmp_prometheus_job_name' },
      {
        action: 'drop',
        source_labels: ['__meta_kubernetes_pod_phase'],
        regex: '(Failed|Succeeded)',
      },
      ...selectorRules('pod', spec.selector as Record<string, unknown>),
      {
        action: 'keep',
        source_labels: ['__meta_kubernetes_pod_container_port_name'],
        regex: String(ep.port),
      },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { target_label: 'job', replacement: `${ns}/${monitor.metadata.name}` },
      { target_label: 'endpoint', replacement: String(ep.port) },
      ...((ep.relabelings as Record<string, unknown>[] | undefined) ?? []).map(promRelabel),
    ],
  }));
}

/** The same for each endpoint of a ServiceMonitor (Kubernetes endpoints discovery). */
export function serviceMonitorScrapeConfigs(
  monitor: MonitorObject,
  targets: readonly DiscoveredTarget[],
  overrides: { readonly interval: string },
): ScrapeConfig[] {
  const ns = monitor.metadata.namespace ?? 'default';
  const spec = specOf(monitor);
  const endpoints = spec.endpoints as Record<string, unknown>[];
  return endpoints.map((ep, i) => ({
    job_name: `serviceMonitor/${ns}/${monitor.metadata.name}/${i}`,
    honor_labels: ep.honorLabels ?? false,
    scrape_interval: overrides.interval,
    scrape_timeout: overrides.interval,
    metrics_path: ep.path ?? '/metrics',
    scheme: ep.scheme ?? 'http',
    static_configs: staticConfigs(
      inNamespaces(ns, spec.namespaceSelector as Record<string, unknown> | undefined, targets),
    ),
    relabel_configs: [
      { source_labels: ['job'], target_label: '__tmp_prometheus_job_name' },
      ...selectorRules('service', spec.selector as Record<string, unknown>),
      {
        action: 'keep',
        source_labels: ['__meta_kubernetes_endpoint_port_name'],
        regex: String(ep.port),
      },
      {
        source_labels: [
          '__meta_kubernetes_endpoint_address_target_kind',
          '__meta_kubernetes_endpoint_address_target_name',
        ],
        separator: ';',
        regex: 'Node;(.*)',
        replacement: '${1}',
        target_label: 'node',
      },
      {
        source_labels: [
          '__meta_kubernetes_endpoint_address_target_kind',
          '__meta_kubernetes_endpoint_address_target_name',
        ],
        separator: ';',
        regex: 'Pod;(.*)',
        replacement: '${1}',
        target_label: 'pod',
      },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_service_name'], target_label: 'service' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
      {
        action: 'drop',
        source_labels: ['__meta_kubernetes_pod_phase'],
        regex: '(Failed|Succeeded)',
      },
      {
        source_labels: ['__meta_kubernetes_service_name'],
        target_label: 'job',
        replacement: '${1}',
      },
      { target_label: 'endpoint', replacement: String(ep.port) },
      ...((ep.relabelings as Record<string, unknown>[] | undefined) ?? []).map(promRelabel),
    ],
  }));
}

function staticConfigs(targets: readonly DiscoveredTarget[]): Record<string, unknown>[] {
  return targets.map((t) => ({ targets: [t.address], labels: t.meta }));
}

/** One sample of an instant vector. */
export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}

export interface PrometheusServer {
  readonly url: string;
  /** Instant query at the server's now; throws with Prometheus's message on a bad expression. */
  query(expr: string): Promise<Sample[]>;
  /** Targets as Prometheus sees them (health, labels after relabeling). */
  targets(): Promise<{ labels: Record<string, string>; health: string; lastError: string }[]>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts Prometheus on a free loopback port with these scrape configs, in a throwaway dir. */
export async function startPrometheus(
  binary: string,
  scrapeConfigs: readonly ScrapeConfig[],
): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'aicb-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: scrapeConfigs,
    }),
  );
  const port = await freePort();
  const child: ChildProcess = spawn(
    binary,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited:\n${output}`);
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`prometheus not ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    async query(expr) {
      const res = await fetch(
        `${url}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`,
      );
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: {
          resultType: string;
          result: { metric: Record<string, string>; value: [number, string] }[];
        };
      };
      if (body.status !== 'success' || body.data === undefined)
        throw new Error(`${expr}: ${body.error ?? res.status}`);
      if (body.data.resultType !== 'vector')
        throw new Error(`${expr}: a ${body.data.resultType}, not an instant vector`);
      return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async targets() {
      const res = await fetch(`${url}/api/v1/targets?state=active`);
      const body = (await res.json()) as {
        data: {
          activeTargets: { labels: Record<string, string>; health: string; lastError: string }[];
        };
      };
      return body.data.activeTargets;
    },
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
