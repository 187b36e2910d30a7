// The Helm chart rendered by the real helm (v3.19.5, from the kube-testenv assets): lint, the
// objects of the default and of a non-default rendering field by field, the generated TLS
// material (by its properties, never its bytes), determinism, values.schema.json, the
// monitoring objects, and the chart's README and CRD copy kept in step.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/fixtures.ts';
import { kubeTestenv } from '../../support/kube-testenv/cluster.ts';
import {
  CHART_DIR,
  NON_DEFAULT_VALUES,
  at,
  helmFor,
  inventory,
  one,
  stringAt,
  type Helm,
  type KubeObject,
} from './install-helpers.ts';

const env = kubeTestenv();
const TITLE = 'Helm chart charts/ai-circuit-breaker (helm lint and template)';

const NS = 'aicb-system';
const RELEASE = 'ai-circuit-breaker';
const FULL = 'ai-circuit-breaker';
const SELECTOR = {
  'app.kubernetes.io/name': 'ai-circuit-breaker',
  'app.kubernetes.io/instance': RELEASE,
  'app.kubernetes.io/component': 'controller',
};
const EXCLUDED = ['kube-system', 'kube-public', 'kube-node-lease', NS];
const DNS_NAMES = [
  `${FULL}-controller.${NS}.svc`,
  `${FULL}-controller.${NS}.svc.cluster.local`,
  `${FULL}-webhook.${NS}.svc`,
  `${FULL}-webhook.${NS}.svc.cluster.local`,
];

/** The webhook entries as the contract fixes them; caBundle is checked separately. */
function expectedWebhooks(options: {
  failurePolicy: string;
  timeoutSeconds: number;
  excluded?: string[];
}) {
  const excluded = options.excluded ?? EXCLUDED;
  const common = {
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: options.failurePolicy,
    timeoutSeconds: options.timeoutSeconds,
    reinvocationPolicy: 'IfNeeded',
    matchPolicy: 'Equivalent',
    rules: [
      {
        operations: ['CREATE'],
        apiGroups: [''],
        apiVersions: ['v1'],
        resources: ['pods'],
        scope: 'Namespaced',
      },
    ],
  };
  const service = { name: `${FULL}-webhook`, namespace: NS, path: '/mutate-pods', port: 443 };
  return [
    {
      name: 'namespace.inject.aicircuit.io',
      clientConfig: { service },
      ...common,
      namespaceSelector: {
        matchExpressions: [
          { key: 'aicircuit.io/inject', operator: 'In', values: ['enabled'] },
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded },
        ],
      },
      objectSelector: {
        matchExpressions: [{ key: 'aicircuit.io/inject', operator: 'NotIn', values: ['false'] }],
      },
    },
    {
      name: 'pod.inject.aicircuit.io',
      clientConfig: { service },
      ...common,
      namespaceSelector: {
        matchExpressions: [
          { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excluded },
        ],
      },
      objectSelector: {
        matchExpressions: [{ key: 'aicircuit.io/inject', operator: 'In', values: ['true'] }],
      },
    },
  ];
}

/** The webhooks without their caBundle (which is generated). */
function webhooksWithoutCa(config: KubeObject): unknown[] {
  const webhooks = at(config, 'webhooks') as Record<string, unknown>[];
  return webhooks.map((w) => {
    const clientConfig = { ...(w.clientConfig as Record<string, unknown>) };
    delete clientConfig.caBundle;
    return { ...w, clientConfig };
  });
}

function injectorConfig(objects: readonly KubeObject[], name = `${FULL}-injector`) {
  return JSON.parse(stringAt(one(objects, 'ConfigMap', name), 'data.config\\.json')) as Record<
    string,
    unknown
  >;
}

/** The objects with everything derived from generated key material blanked out. */
function withoutKeyMaterial(objects: readonly KubeObject[]): unknown[] {
  return objects.map((o) => {
    const copy = structuredClone(o) as Record<string, unknown> & KubeObject;
    if (o.kind === 'Secret') copy.data = 'GENERATED';
    if (o.kind === 'MutatingWebhookConfiguration') copy.webhooks = webhooksWithoutCa(o);
    if (o.kind === 'ConfigMap' && o.metadata.name === `${FULL}-injector`) {
      copy.data = { ...injectorConfig([o]), caBundle: 'GENERATED' };
    }
    if (o.kind === 'Deployment') {
      const annotations = at(copy, 'spec.template.metadata.annotations') as Record<string, string>;
      annotations['checksum/injector'] = 'GENERATED';
      annotations['checksum/tls'] = 'GENERATED';
    }
    return copy;
  });
}

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let helm: Helm;
  let defaults: KubeObject[];

  beforeAll(async () => {
    if (!env.available) return;
    helm = helmFor(env);
    defaults = await helm.template(RELEASE, NS);
  });

  describe('helm lint --strict', () => {
    const valueFiles = readdirSync(join(CHART_DIR, 'ci')).sort();

    it('passes with the default values', async () => {
      const r = await helm.run(['lint', '--strict', CHART_DIR]);
      expect(r.stdout + r.stderr).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
      expect(r.code).toBe(0);
    });

    it.each(valueFiles)('passes with ci/%s', async (file) => {
      const r = await helm.run(['lint', '--strict', CHART_DIR, '-f', join(CHART_DIR, 'ci', file)]);
      expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
      expect(r.code).toBe(0);
    });
  });

  describe('default values', () => {
    it('renders exactly the controller, its RBAC, Services, PDB, TLS Secret, injector settings and webhook', () => {
      expect(inventory(defaults)).toEqual([
        `ClusterRole/${FULL}-controller`,
        `ClusterRoleBinding/${FULL}-auth-delegator`,
        `ClusterRoleBinding/${FULL}-controller`,
        `ConfigMap/${FULL}-helm-test`,
        `ConfigMap/${FULL}-injector`,
        `Deployment/${FULL}-controller`,
        `MutatingWebhookConfiguration/${FULL}-injector`,
        `Pod/${FULL}-helm-test`,
        `PodDisruptionBudget/${FULL}-controller`,
        `Role/${FULL}-leader-election`,
        `RoleBinding/${FULL}-leader-election`,
        `Secret/${FULL}-tls`,
        `Service/${FULL}-controller`,
        `Service/${FULL}-metrics`,
        `Service/${FULL}-webhook`,
        `ServiceAccount/${FULL}-controller`,
      ]);
      for (const o of defaults) {
        expect(o.metadata.labels, `${o.kind}/${o.metadata.name}`).toMatchObject({
          'app.kubernetes.io/name': 'ai-circuit-breaker',
          'app.kubernetes.io/instance': RELEASE,
          'app.kubernetes.io/part-of': 'ai-circuit-breaker',
          'app.kubernetes.io/managed-by': 'Helm',
          'helm.sh/chart': 'ai-circuit-breaker-0.1.0',
        });
        const clusterScoped = ['ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration'];
        expect(o.metadata.namespace).toBe(clusterScoped.includes(o.kind) ? undefined : NS);
      }
    });

    it('the controller Deployment: 2 replicas, the fixed flags, downward API, probes, hardened security context, volumes', () => {
      const deployment = one(defaults, 'Deployment');
      expect(at(deployment, 'spec.replicas')).toBe(2);
      expect(at(deployment, 'spec.selector')).toEqual({ matchLabels: SELECTOR });
      expect(at(deployment, 'spec.template.metadata.labels')).toMatchObject(SELECTOR);
      const pod = at(deployment, 'spec.template.spec') as Record<string, unknown>;
      expect(pod).toMatchObject({
        serviceAccountName: `${FULL}-controller`,
        automountServiceAccountToken: true,
        enableServiceLinks: false,
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 65532,
          runAsGroup: 65532,
          fsGroup: 65532,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        affinity: {
          podAntiAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 100,
                podAffinityTerm: {
                  topologyKey: 'kubernetes.io/hostname',
                  labelSelector: { matchLabels: SELECTOR },
                },
              },
            ],
          },
        },
        volumes: [
          { name: 'tls', secret: { secretName: `${FULL}-tls`, defaultMode: 0o440 } },
          { name: 'injector', configMap: { name: `${FULL}-injector` } },
          { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
        ],
      });
      const containers = pod.containers as Record<string, unknown>[];
      expect(containers).toHaveLength(1);
      expect(pod.initContainers).toBeUndefined();
      const [controller] = containers;
      expect(controller).toMatchObject({
        name: 'controller',
        image: 'ai-circuit-breaker:0.1.0',
        imagePullPolicy: 'IfNotPresent',
        args: [
          'controller',
          '--listen=0.0.0.0:15402',
          '--admin-listen=0.0.0.0:15403',
          '--webhook-listen=0.0.0.0:15404',
          '--tls-cert-file=/etc/aicb/tls/tls.crt',
          '--tls-key-file=/etc/aicb/tls/tls.key',
          '--tls-ca-file=/etc/aicb/tls/ca.crt',
          '--injector-config=/etc/aicb/injector/config.json',
          `--lease-namespace=${NS}`,
          '--log-level=info',
        ],
        env: [
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'NODE_OPTIONS', value: '--max-semi-space-size=8' },
        ],
        ports: [
          { name: 'delivery', containerPort: 15402, protocol: 'TCP' },
          { name: 'admin', containerPort: 15403, protocol: 'TCP' },
          { name: 'webhook', containerPort: 15404, protocol: 'TCP' },
        ],
        livenessProbe: { httpGet: { path: '/healthz', port: 'admin' } },
        readinessProbe: { httpGet: { path: '/readyz', port: 'admin' } },
        lifecycle: { preStop: { exec: { command: ['sleep', '5'] } } },
        resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 65532,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
        volumeMounts: [
          { name: 'tls', mountPath: '/etc/aicb/tls', readOnly: true },
          { name: 'injector', mountPath: '/etc/aicb/injector', readOnly: true },
          { name: 'tmp', mountPath: '/tmp' },
        ],
      });
      // Every replica is Ready once synced (the delivery Service follows the leader label).
      expect(at(deployment, 'spec.strategy')).toEqual({
        type: 'RollingUpdate',
        rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
      });
      expect(Object.keys(at(deployment, 'spec.template.metadata.annotations') as object)).toEqual([
        'checksum/injector',
        'checksum/tls',
      ]);
    });

    it('the Services: delivery (leader only) with the metrics port, and the webhook publishing not-ready replicas', () => {
      const controller = one(defaults, 'Service', `${FULL}-controller`);
      expect(at(controller, 'spec')).toEqual({
        type: 'ClusterIP',
        // Only the leader serves streams; it labels its own pod (ADR 0004).
        selector: { ...SELECTOR, 'aicircuit.io/leader': 'true' },
        ports: [
          {
            name: 'delivery',
            port: 15402,
            targetPort: 'delivery',
            protocol: 'TCP',
            appProtocol: 'https',
          },
          {
            name: 'metrics',
            port: 15403,
            targetPort: 'admin',
            protocol: 'TCP',
            appProtocol: 'http',
          },
        ],
      });
      const webhook = one(defaults, 'Service', `${FULL}-webhook`);
      expect(at(webhook, 'spec')).toEqual({
        type: 'ClusterIP',
        selector: SELECTOR,
        ports: [
          {
            name: 'https',
            port: 443,
            targetPort: 'webhook',
            protocol: 'TCP',
            appProtocol: 'https',
          },
        ],
      });
      expect(webhook.metadata.labels?.['app.kubernetes.io/component']).toBe('webhook');
    });

    it('least-privilege RBAC: exactly the rules the controller needs, TokenReview via system:auth-delegator, leases in its namespace', () => {
      expect(at(one(defaults, 'ClusterRole'), 'rules')).toEqual([
        {
          apiGroups: ['aicircuit.io'],
          resources: ['aicircuitpolicies'],
          verbs: ['get', 'list', 'watch'],
        },
        {
          apiGroups: ['aicircuit.io'],
          resources: ['aicircuitpolicies/status'],
          verbs: ['get', 'patch', 'update'],
        },
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      ]);
      const subjects = [{ kind: 'ServiceAccount', name: `${FULL}-controller`, namespace: NS }];
      expect(one(defaults, 'ClusterRoleBinding', `${FULL}-controller`)).toMatchObject({
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: `${FULL}-controller`,
        },
        subjects,
      });
      expect(one(defaults, 'ClusterRoleBinding', `${FULL}-auth-delegator`)).toMatchObject({
        roleRef: { kind: 'ClusterRole', name: 'system:auth-delegator' },
        subjects,
      });
      expect(at(one(defaults, 'Role'), 'rules')).toEqual([
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get', 'create', 'update'],
        },
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'patch'] },
      ]);
      expect(one(defaults, 'RoleBinding')).toMatchObject({
        roleRef: { kind: 'Role', name: `${FULL}-leader-election` },
        subjects,
      });
    });

    it('the PodDisruptionBudget keeps one controller and lets drains evict standbys', () => {
      expect(at(one(defaults, 'PodDisruptionBudget'), 'spec')).toEqual({
        minAvailable: 1,
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
        selector: { matchLabels: SELECTOR },
      });
    });

    it('the MutatingWebhookConfiguration: two webhooks with the fixed names, selectors and policies, and the CA inline', () => {
      const config = one(defaults, 'MutatingWebhookConfiguration');
      expect(config.metadata.name).toBe(`${FULL}-injector`);
      expect(config.metadata.annotations).toBeUndefined();
      expect(webhooksWithoutCa(config)).toEqual(
        expectedWebhooks({ failurePolicy: 'Ignore', timeoutSeconds: 5 }),
      );
      const ca = stringAt(one(defaults, 'Secret'), 'data.ca\\.crt');
      for (const webhook of at(config, 'webhooks') as unknown[]) {
        expect(at(webhook, 'clientConfig.caBundle')).toBe(ca);
      }
    });

    it('the injector settings (config.json) have exactly the contract keys; caBundle is the CA', () => {
      const config = injectorConfig(defaults);
      const secret = one(defaults, 'Secret');
      expect(config).toEqual({
        image: 'ai-circuit-breaker:0.1.0',
        imagePullPolicy: 'IfNotPresent',
        controllerUrl: `https://${FULL}-controller.${NS}.svc:15402`,
        caBundle: Buffer.from(stringAt(secret, 'data.ca\\.crt'), 'base64').toString('utf8'),
        resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '1Gi' } },
        excludedNamespaces: EXCLUDED,
        nodeOptions: '--max-semi-space-size=8',
        logLevel: 'info',
      });
    });

    it('the generated TLS Secret: a CA and a certificate it signed for both Services, with its key', () => {
      const secret = one(defaults, 'Secret');
      expect(at(secret, 'type')).toBe('kubernetes.io/tls');
      const data = at(secret, 'data') as Record<string, string>;
      expect(Object.keys(data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
      const pem = (key: string) => Buffer.from(data[key] ?? '', 'base64').toString('utf8');
      const ca = new X509Certificate(pem('ca.crt'));
      const cert = new X509Certificate(pem('tls.crt'));
      expect(ca.ca).toBe(true);
      expect(cert.ca).toBe(false);
      expect(cert.checkIssued(ca)).toBe(true);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.checkPrivateKey(createPrivateKey(pem('tls.key')))).toBe(true);
      expect(cert.subjectAltName?.split(', ').sort()).toEqual(
        DNS_NAMES.map((n) => `DNS:${n}`).sort(),
      );
      expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.1'); // serverAuth
      const years = (new Date(cert.validTo).getTime() - Date.now()) / (365 * 24 * 3600 * 1000);
      expect(years).toBeGreaterThan(9.9);
    });

    it('is deterministic apart from the generated key material', async () => {
      const again = await helm.template(RELEASE, NS);
      expect(withoutKeyMaterial(again)).toEqual(withoutKeyMaterial(defaults));
      // ...which is fresh in each rendering (`lookup` finds nothing without a cluster).
      expect(stringAt(one(again, 'Secret'), 'data.tls\\.key')).not.toBe(
        stringAt(one(defaults, 'Secret'), 'data.tls\\.key'),
      );
    });

    it('renders no ServiceMonitor, PodMonitor or dashboard unless asked', () => {
      expect(defaults.filter((o) => o.kind.endsWith('Monitor'))).toEqual([]);
      expect(defaults.filter((o) => o.metadata.labels?.grafana_dashboard !== undefined)).toEqual(
        [],
      );
    });
  });

  describe('non-default values (ci/non-default-values.yaml: cert-manager, Fail, 3 replicas, own resources, monitoring on)', () => {
    let custom: KubeObject[];
    beforeAll(async () => {
      custom = await helm.template(RELEASE, NS, ['-f', NON_DEFAULT_VALUES]);
    });

    it('without monitoring.coreos.com/v1 in the cluster, no ServiceMonitor or PodMonitor is rendered', () => {
      expect(custom.filter((o) => o.apiVersion.startsWith('monitoring.coreos.com/'))).toEqual([]);
    });

    it('renders cert-manager objects instead of a Secret: self-signed CA chain and the serving Certificate', () => {
      expect(inventory(custom).filter((k) => /^(Secret|Issuer|Certificate)\//.test(k))).toEqual([
        `Certificate/${FULL}-ca`,
        `Certificate/${FULL}-tls`,
        `Issuer/${FULL}-ca`,
        `Issuer/${FULL}-selfsigned`,
      ]);
      for (const o of custom.filter((c) => c.apiVersion.startsWith('cert-manager.io/'))) {
        expect(o.apiVersion).toBe('cert-manager.io/v1');
        expect(o.metadata.namespace).toBe(NS);
      }
      expect(at(one(custom, 'Issuer', `${FULL}-selfsigned`), 'spec')).toEqual({ selfSigned: {} });
      expect(at(one(custom, 'Certificate', `${FULL}-ca`), 'spec')).toMatchObject({
        isCA: true,
        secretName: `${FULL}-ca`,
        issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: `${FULL}-selfsigned` },
      });
      expect(at(one(custom, 'Issuer', `${FULL}-ca`), 'spec')).toEqual({
        ca: { secretName: `${FULL}-ca` },
      });
      expect(at(one(custom, 'Certificate', `${FULL}-tls`), 'spec')).toMatchObject({
        secretName: `${FULL}-tls`,
        commonName: DNS_NAMES[0],
        dnsNames: DNS_NAMES,
        duration: '2160h',
        renewBefore: '720h',
        usages: ['server auth', 'digital signature'],
        issuerRef: { group: 'cert-manager.io', kind: 'Issuer', name: `${FULL}-ca` },
      });
    });

    it('the webhook takes its CA from cert-manager, fails closed, waits 10s and skips the extra namespaces', () => {
      const config = one(custom, 'MutatingWebhookConfiguration');
      expect(config.metadata.annotations).toEqual({
        'cert-manager.io/inject-ca-from': `${NS}/${FULL}-tls`,
      });
      const expected = expectedWebhooks({
        failurePolicy: 'Fail',
        timeoutSeconds: 10,
        excluded: [...EXCLUDED, 'monitoring', 'cert-manager'],
      });
      // No caBundle at all: cainjector fills it in.
      expect(at(config, 'webhooks')).toEqual(expected);
    });

    it('the injector settings: the sidecar image and resources from values, an empty caBundle (the controller reads ca.crt)', () => {
      expect(injectorConfig(custom)).toEqual({
        image: 'registry.example.com/platform/ai-circuit-breaker-sidecar:0.1.0-rc.2',
        imagePullPolicy: 'Always',
        controllerUrl: `https://${FULL}-controller.${NS}.svc:15402`,
        caBundle: '',
        resources: { requests: { cpu: '20m', memory: '48Mi' }, limits: { memory: '96Mi' } },
        excludedNamespaces: [...EXCLUDED, 'monitoring', 'cert-manager'],
        nodeOptions: '',
        logLevel: 'warn',
      });
    });

    it('the Deployment: 3 replicas, the controller image, its resources, extra env, priority class, no preStop, no TLS checksum', () => {
      const deployment = one(custom, 'Deployment');
      expect(at(deployment, 'spec.replicas')).toBe(3);
      expect(at(deployment, 'spec.template.spec.priorityClassName')).toBe(
        'system-cluster-critical',
      );
      const container = at(deployment, 'spec.template.spec.containers.0') as Record<
        string,
        unknown
      >;
      expect(container.image).toBe('registry.example.com/platform/ai-circuit-breaker:0.1.0-rc.1');
      expect(container.resources).toEqual({
        requests: { cpu: '250m', memory: '256Mi' },
        limits: { cpu: '1', memory: '1Gi' },
      });
      expect(container.args).toContain('--log-level=debug');
      expect(container.env).toEqual([
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
        { name: 'NODE_OPTIONS', value: '--max-semi-space-size=8' },
        {
          name: 'SLACK_WEBHOOK_URL',
          valueFrom: { secretKeyRef: { name: 'alerts', key: 'slack-url' } },
        },
      ]);
      expect(container.lifecycle).toBeUndefined();
      expect(Object.keys(at(deployment, 'spec.template.metadata.annotations') as object)).toEqual([
        'checksum/injector',
      ]);
      expect(at(one(custom, 'PodDisruptionBudget'), 'spec.minAvailable')).toBe(2);
    });

    it('the Grafana dashboard ConfigMap carries grafana_dashboard: "1" and covers the contract panels with metrics that exist', () => {
      const cm = one(custom, 'ConfigMap', `${FULL}-dashboard`);
      expect(cm.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
      expect(cm.metadata.annotations).toEqual({ grafana_folder: 'AI' });
      const dashboard = JSON.parse(stringAt(cm, 'data.ai-circuit-breaker\\.json')) as {
        uid: string;
        panels: { title: string; targets?: { expr: string }[] }[];
      };
      expect(dashboard.uid).toBe('ai-circuit-breaker');
      const exprs = (title: string) =>
        (dashboard.panels.find((p) => p.title === title)?.targets ?? [])
          .map((t) => t.expr)
          .join('\n');
      expect(exprs('Circuit state over time')).toContain('circuit_breaker_state');
      expect(exprs('Failure rate by provider')).toMatch(
        /sum by \(provider\) \(rate\(circuit_breaker_failures_total\{[^}]*\}\[5m\]\)\)/,
      );
      expect(exprs('Fallback share')).toMatch(
        // Divided by the total only where it is positive: no traffic shows nothing, not NaN.
        /aicb_requests_total\{[^}]*result="fallback"[^}]*\}\[5m\]\)\) \/ \(sum\(rate\(aicb_requests_total\{[^}]*\}\[5m\]\)\) > 0\)/,
      );
      expect(exprs('Recovery time (mean time open per opening, 1h)')).toContain(
        'aicb_circuit_open_duration_seconds',
      );
      expect(exprs('Short-circuited calls')).toContain('aicb_short_circuited_total');
      // Cost and outage panels (issue 8).
      expect(exprs('Estimated spend (24h)')).toContain('aicb_cost_usd_total');
      expect(exprs('Fallback extra cost (24h)')).toMatch(
        /aicb_fallback_cost_usd_total.*\) - .*aicb_fallback_requested_cost_usd_total/,
      );
      expect(exprs('Time not spent waiting (24h)')).toContain('aicb_wait_avoided_seconds_total');
      expect(exprs('Outages (24h)')).toContain('aicb_circuit_openings_total');

      // Every metric the dashboard queries is documented (docs/metrics.md is tested against the code).
      const documented = readFileSync(join(REPO_ROOT, 'docs', 'metrics.md'), 'utf8');
      const used = new Set(
        dashboard.panels
          .flatMap((p) => p.targets ?? [])
          .flatMap((t) => t.expr.match(/\b(?:circuit_breaker|aicb)_[a-z_]+/g) ?? [])
          .map((m) => m.replace(/_(bucket|count|sum)$/, '')),
      );
      expect(used.size).toBeGreaterThan(8);
      for (const metric of used) expect(documented, metric).toContain(`\`${metric}\``);
    });

    it('is byte-for-byte deterministic (cert-manager mode generates nothing)', async () => {
      const a = await helm.run([
        'template',
        RELEASE,
        CHART_DIR,
        '-n',
        NS,
        '-f',
        NON_DEFAULT_VALUES,
      ]);
      const b = await helm.run([
        'template',
        RELEASE,
        CHART_DIR,
        '-n',
        NS,
        '-f',
        NON_DEFAULT_VALUES,
      ]);
      expect(a.code).toBe(0);
      expect(b.stdout).toBe(a.stdout);
    });
  });

  describe('with monitoring.coreos.com/v1 served (helm template --api-versions)', () => {
    let monitored: KubeObject[];
    beforeAll(async () => {
      monitored = await helm.template(RELEASE, NS, [
        '-f',
        NON_DEFAULT_VALUES,
        '--api-versions',
        'monitoring.coreos.com/v1',
      ]);
    });

    it('the ServiceMonitor selects the metrics Service of every replica (not the leader-only one) on its metrics port', () => {
      const sm = one(monitored, 'ServiceMonitor');
      expect(sm.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
      const selector = { ...SELECTOR, 'app.kubernetes.io/component': 'metrics' };
      expect(at(sm, 'spec')).toEqual({
        namespaceSelector: { matchNames: [NS] },
        selector: { matchLabels: selector },
        endpoints: [
          {
            port: 'metrics',
            path: '/metrics',
            scheme: 'http',
            interval: '30s',
            scrapeTimeout: '10s',
          },
        ],
      });
      const services = monitored.filter((o) => o.kind === 'Service');
      const selected = services.filter((s) =>
        Object.entries(selector).every(([k, v]) => s.metadata.labels?.[k] === v),
      );
      expect(selected.map((s) => s.metadata.name)).toEqual([`${FULL}-metrics`]);
      const ports = at(selected[0], 'spec.ports') as { name: string }[];
      expect(ports.map((p) => p.name)).toEqual(['metrics']);
      // It reaches every replica: its pod selector has no leader label.
      expect(at(selected[0], 'spec.selector')).toEqual(SELECTOR);
    });

    it('the PodMonitor scrapes injected sidecars in every namespace on aicb-admin', () => {
      expect(at(one(monitored, 'PodMonitor'), 'spec')).toEqual({
        namespaceSelector: { any: true },
        selector: { matchLabels: { 'aicircuit.io/injected': 'true' } },
        podMetricsEndpoints: [
          {
            port: 'aicb-admin',
            path: '/metrics',
            scheme: 'http',
            interval: '30s',
            scrapeTimeout: '10s',
            // The metric's own endpoint label (chat, embeddings) wins over the port name.
            relabelings: [{ action: 'labeldrop', regex: 'endpoint' }],
          },
        ],
      });
    });
  });

  describe('options', () => {
    it('networkPolicy: ingress on the three controller ports only, egress restricted only when rules are given', async () => {
      expect(defaults.some((o) => o.kind === 'NetworkPolicy')).toBe(false);
      const open = one(
        await helm.template(RELEASE, NS, ['--set', 'networkPolicy.enabled=true']),
        'NetworkPolicy',
      );
      expect(at(open, 'spec')).toEqual({
        podSelector: { matchLabels: SELECTOR },
        policyTypes: ['Ingress'],
        ingress: [
          { ports: [{ port: 15402, protocol: 'TCP' }], from: [{ namespaceSelector: {} }] },
          { ports: [{ port: 15403, protocol: 'TCP' }], from: [{ namespaceSelector: {} }] },
          { ports: [{ port: 15404, protocol: 'TCP' }] },
        ],
      });
      const strict = one(
        await helm.template(RELEASE, NS, ['-f', NON_DEFAULT_VALUES]),
        'NetworkPolicy',
      );
      expect(at(strict, 'spec.policyTypes')).toEqual(['Ingress', 'Egress']);
      expect(at(strict, 'spec.ingress.1.from')).toEqual([
        { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
      ]);
      expect(at(strict, 'spec.egress.1.ports.0')).toEqual({ port: 53, protocol: 'UDP' });
    });

    it('warns in the install notes when monitors are enabled but the cluster has no monitoring.coreos.com/v1', async () => {
      const install = (args: string[]) =>
        helm.run(['install', RELEASE, CHART_DIR, '-n', NS, '--dry-run=client', ...args]);
      const without = await install(['--set', 'podMonitor.enabled=true']);
      expect(without.code).toBe(0);
      expect(without.stdout).toContain(
        'WARNING: serviceMonitor.enabled or podMonitor.enabled is true, but this cluster does not serve\nmonitoring.coreos.com/v1',
      );
      expect(without.stdout).not.toContain('kind: PodMonitor');
      expect((await install([])).stdout).not.toContain('WARNING: serviceMonitor.enabled');
    });

    it('the helm test hook runs the chart file files/helm-test.mjs with the Service URLs and only the CA', () => {
      const configMap = one(defaults, 'ConfigMap', `${FULL}-helm-test`);
      expect(configMap.metadata.annotations).toMatchObject({ 'helm.sh/hook': 'test' });
      expect(stringAt(configMap, 'data.helm-test\\.mjs')).toBe(
        readFileSync(join(CHART_DIR, 'files', 'helm-test.mjs'), 'utf8').trimEnd(),
      );
      const pod = one(defaults, 'Pod', `${FULL}-helm-test`);
      expect(pod.metadata.annotations).toMatchObject({ 'helm.sh/hook': 'test' });
      expect(pod.metadata.labels?.['aicircuit.io/inject']).toBe('false');
      const container = (at(pod, 'spec.containers') as Record<string, unknown>[])[0];
      expect(container?.command).toEqual(['node', '/helm-test/helm-test.mjs']);
      expect(container?.env).toEqual([
        {
          name: 'AICB_READYZ_URL',
          value: `http://${FULL}-controller.${NS}.svc:15403/readyz`,
        },
        {
          name: 'AICB_WEBHOOK_URL',
          value: `https://${FULL}-webhook.${NS}.svc:443/mutate-pods`,
        },
        { name: 'AICB_CA_FILE', value: '/tls/ca.crt' },
        { name: 'AICB_NAMESPACE', value: NS },
      ]);
      expect(at(pod, 'spec.volumes.1.secret')).toEqual({
        secretName: `${FULL}-tls`,
        items: [{ key: 'ca.crt', path: 'ca.crt' }],
      });
    });
  });

  describe('values.schema.json rejects bad values before anything renders', () => {
    it.each([
      ['replicaCount=two', "at '/replicaCount': got string, want integer"],
      ['replicaCount=0', "at '/replicaCount': minimum"],
      [
        'webhook.failurePolicy=Sometimes',
        "at '/webhook/failurePolicy': value must be one of 'Ignore', 'Fail'",
      ],
      ['webhook.timeoutSeconds=31', "at '/webhook/timeoutSeconds': maximum"],
      ['sidecar.logLevel=verbose', "at '/sidecar/logLevel'"],
      ['image.pullPolicy=Sometimes', "at '/image/pullPolicy'"],
      ['certManager.duration=90d', "at '/certManager/duration'"],
      ['replicas=2', "additional properties 'replicas' not allowed"],
    ])('--set %s', async (set, message) => {
      const r = await helm.run(['template', RELEASE, CHART_DIR, '-n', NS, '--set', set]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain("values don't meet the specifications of the schema");
      expect(r.stderr).toContain(message);
    });

    it('helm lint --strict fails on a bad value too', async () => {
      const r = await helm.run(['lint', '--strict', CHART_DIR, '--set', 'replicaCount=two']);
      expect(r.code).not.toBe(0);
      expect(r.stdout + r.stderr).toContain("at '/replicaCount': got string, want integer");
    });
  });

  it('refuses Kubernetes before 1.29 (native sidecars), accepts vendor pre-release versions', async () => {
    const old = await helm.run(['template', RELEASE, CHART_DIR, '--kube-version', '1.28.9']);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain('chart requires kubeVersion: >=1.29.0-0');
    const eks = await helm.run([
      'template',
      RELEASE,
      CHART_DIR,
      '--kube-version',
      'v1.29.1-eks-5e0fdde',
    ]);
    expect(eks.code).toBe(0);
  });

  it('the chart README documents every value of values.yaml', () => {
    const values = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<
      string,
      unknown
    >;
    const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
    const leaves = (value: unknown, prefix: string): string[] =>
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.keys(value).length > 0
        ? Object.entries(value).flatMap(([k, v]) => leaves(v, prefix === '' ? k : `${prefix}.${k}`))
        : [prefix];
    // Kubernetes structures (resources, strategy) are documented as a whole.
    const keys = leaves(values, '')
      .map((k) => k.replace(/\.(resources|strategy)\..*$/, '.$1'))
      .filter((k, i, all) => all.indexOf(k) === i);
    for (const key of keys) expect(readme, key).toContain(`| \`${key}\``);
  });

  it("the chart's CRD is a byte copy of crds/ (npm run gen:crd writes both)", () => {
    const file = 'aicircuitpolicies.aicircuit.io.yaml';
    expect(readFileSync(join(CHART_DIR, 'crds', file), 'utf8')).toBe(
      readFileSync(join(REPO_ROOT, 'crds', file), 'utf8'),
    );
  });
});
