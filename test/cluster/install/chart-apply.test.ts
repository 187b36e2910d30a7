// The chart against the real kube-apiserver: every rendered object passes
// `kubectl apply --dry-run=server` (schema, strict field validation, RBAC, webhook
// configuration), and a real `helm install` / `upgrade` / `uninstall` prints the notes, keeps
// the generated certificate across upgrades (lookup) and cleans up.
//
// cert-manager and Prometheus Operator kinds have no CRDs on the bare API server; they are left
// out of the dry run (a stub CRD would accept anything and prove nothing) and checked field by
// field in chart-render.test.ts instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, kubeTestenv, type Cluster } from '../../support/kube-testenv/cluster.ts';
import { installCrd } from '../kube/kube-helpers.ts';
import {
  CHART_DIR,
  NON_DEFAULT_VALUES,
  helmFor,
  isForeign,
  kubectlName,
  toYamlStream,
  type Helm,
  type KubeObject,
} from './install-helpers.ts';

const env = kubeTestenv();
const TITLE = 'Helm chart on a real kube-apiserver (server dry run, helm install and upgrade)';

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let helm: Helm;

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    helm = helmFor(env);
    await installCrd(cluster);
  });

  async function dryRun(objects: readonly KubeObject[]) {
    const applied = await cluster.kubectl(
      ['apply', '--dry-run=server', '--validate=strict', '-f', '-'],
      { input: toYamlStream(objects) },
    );
    return applied;
  }

  it.each([
    ['default values', []],
    ['ci/non-default-values.yaml', ['-f', NON_DEFAULT_VALUES]],
    [
      'ci/non-default-values.yaml with monitoring.coreos.com/v1',
      ['-f', NON_DEFAULT_VALUES, '--api-versions', 'monitoring.coreos.com/v1'],
    ],
  ])(
    'helm template (%s) | kubectl apply --dry-run=server: every object accepted',
    async (_, args) => {
      const ns = await cluster.createNamespace('aicb-dry');
      const objects = await helm.template('aicb', ns, args);
      const checked = objects.filter((o) => !isForeign(o));
      const applied = await dryRun(checked);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      const lines = applied.stdout.trim().split('\n').sort();
      expect(lines).toEqual(
        checked.map((o) => `${kubectlName(o)} created (server dry run)`).sort(),
      );
      // What the dry run could not check is exactly the optional foreign kinds.
      const foreign = objects.filter(isForeign).map((o) => o.kind);
      expect(foreign.sort()).toEqual(
        args.length === 0
          ? []
          : args.includes('--api-versions')
            ? ['Certificate', 'Certificate', 'Issuer', 'Issuer', 'PodMonitor', 'ServiceMonitor']
            : ['Certificate', 'Certificate', 'Issuer', 'Issuer'],
      );
    },
  );

  it('the API server rejects what the schema cannot see: a webhook timeout of 31s set past the chart', async () => {
    // A guard that the dry run really validates: the same objects with one field broken fail.
    const ns = await cluster.createNamespace('aicb-dry');
    const objects = await helm.template('aicb', ns);
    const broken = objects.map((o) =>
      o.kind === 'MutatingWebhookConfiguration'
        ? {
            ...o,
            webhooks: (o.webhooks as Record<string, unknown>[]).map((w) => ({
              ...w,
              timeoutSeconds: 31,
            })),
          }
        : o,
    );
    const applied = await dryRun(broken.filter((o) => o.kind === 'MutatingWebhookConfiguration'));
    expect(applied.code).not.toBe(0);
    expect(applied.stderr).toContain('timeoutSeconds: Invalid value: 31');
  });

  describe('helm install, upgrade and uninstall (default values)', () => {
    const release = 'aicb-it';
    const full = 'aicb-it-ai-circuit-breaker';
    let ns: string;
    let install: { code: number | null; stdout: string; stderr: string };

    async function tlsState() {
      const secret = await cluster.core.readNamespacedSecret({
        name: `${full}-tls`,
        namespace: ns,
      });
      const webhook = await cluster.kubectl([
        'get',
        'mutatingwebhookconfiguration',
        `${full}-injector`,
        '-o',
        'jsonpath={.webhooks[*].clientConfig.caBundle}',
      ]);
      const configMap = await cluster.core.readNamespacedConfigMap({
        name: `${full}-injector`,
        namespace: ns,
      });
      const config = JSON.parse(configMap.data?.['config.json'] ?? '{}') as { caBundle: string };
      const deployment = await cluster.kubectl([
        'get',
        'deployment',
        `${full}-controller`,
        '-n',
        ns,
        '-o',
        'json',
      ]);
      const annotations = (
        JSON.parse(deployment.stdout) as {
          spec: { template: { metadata: { annotations: Record<string, string> } } };
        }
      ).spec.template.metadata.annotations;
      return {
        data: secret.data ?? {},
        webhookCaBundles: webhook.stdout.split(' '),
        injectorCa: config.caBundle,
        tlsChecksum: annotations['checksum/tls'],
      };
    }

    beforeAll(async () => {
      ns = await cluster.createNamespace('aicb-helm');
      install = await helm.run(['install', release, CHART_DIR, '-n', ns, '--skip-crds']);
    });

    afterAll(async () => {
      // Never leave a webhook registered for the test files that follow.
      await helm.run(['uninstall', release, '-n', ns, '--wait', '--timeout', '60s']);
    });

    it('installs and prints the notes: how to opt a namespace in, a first policy, kubectl get aicp', () => {
      expect(install.stderr).toBe('');
      expect(install.code).toBe(0);
      const notes = install.stdout.slice(install.stdout.indexOf('NOTES:'));
      expect(notes).toContain(`ai-circuit-breaker 0.1.0 is installed in namespace ${ns}.`);
      expect(notes).toContain('kubectl label namespace shop aicircuit.io/inject=enabled');
      expect(notes).toContain("kubectl apply -n shop -f - <<'YAML'");
      expect(notes).toContain('kind: AICircuitPolicy');
      expect(notes).toContain('kubectl get aicp -n shop');
      expect(notes).toContain(`Never injected: kube-system, kube-public, kube-node-lease, ${ns}.`);
      expect(notes).toContain(`the chart generated Secret ${full}-tls`);
      expect(notes).toContain(
        'Webhook failurePolicy: Ignore (pods are created without the sidecar',
      );
    });

    it('the notes policy is one the API server accepts', async () => {
      const notes = install.stdout.slice(install.stdout.indexOf('NOTES:'));
      const heredoc = /<<'YAML'\n([\s\S]*?)\n\s*YAML\n/.exec(notes)?.[1];
      expect(heredoc).toBeDefined();
      const policy = (heredoc ?? '')
        .split('\n')
        .map((l) => l.replace(/^ {5}/, ''))
        .join('\n');
      const applied = await cluster.kubectl(['apply', '--dry-run=server', '-n', ns, '-f', '-'], {
        input: policy,
      });
      expect(applied.stdout).toContain(
        'aicircuitpolicy.aicircuit.io/chat-egress created (server dry run)',
      );
      expect(applied.code).toBe(0);
    });

    it('the installed CA is the one in the webhook configuration and in the injector settings', async () => {
      const state = await tlsState();
      expect(Object.keys(state.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
      expect(state.webhookCaBundles).toEqual([state.data['ca.crt'], state.data['ca.crt']]);
      expect(state.injectorCa).toBe(
        Buffer.from(state.data['ca.crt'] ?? '', 'base64').toString('utf8'),
      );
    });

    it('helm upgrade keeps the certificate (lookup) while applying the new values', async () => {
      const before = await tlsState();
      const upgrade = await helm.run([
        'upgrade',
        release,
        CHART_DIR,
        '-n',
        ns,
        '--skip-crds',
        '--reuse-values',
        '--set',
        'webhook.timeoutSeconds=7',
      ]);
      expect(upgrade.stderr).toBe('');
      expect(upgrade.code).toBe(0);
      const after = await tlsState();
      expect(after).toEqual(before);
      const timeouts = await cluster.kubectl([
        'get',
        'mutatingwebhookconfiguration',
        `${full}-injector`,
        '-o',
        'jsonpath={.webhooks[*].timeoutSeconds}',
      ]);
      expect(timeouts.stdout).toBe('7 7');
    });

    it('helm uninstall removes the cluster-scoped objects (the webhook, RBAC) and keeps the CRD', async () => {
      const r = await helm.run(['uninstall', release, '-n', ns, '--wait', '--timeout', '60s']);
      expect(r.code).toBe(0);
      const webhook = await cluster.kubectl([
        'get',
        'mutatingwebhookconfiguration',
        `${full}-injector`,
      ]);
      expect(webhook.stderr).toContain('NotFound');
      const role = await cluster.kubectl(['get', 'clusterrole', `${full}-controller`]);
      expect(role.stderr).toContain('NotFound');
      const crd = await cluster.kubectl(['get', 'crd', 'aicircuitpolicies.aicircuit.io']);
      expect(crd.code).toBe(0);
    });
  });
});
