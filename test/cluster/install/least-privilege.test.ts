// Least privilege (issue 14, item 5), against a real kube-apiserver: with rbac.secretNamespaces
// the chart's RBAC lets the controller read Secrets only in the listed namespaces (kubectl auth
// can-i, as the controller's ServiceAccount), and a controller running with that ServiceAccount's
// own token resolves Secrets there while rejecting a policy elsewhere as SecretNotReadable,
// without a single forbidden request.
import { AuthenticationV1TokenRequest, KubeConfig, V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Controller } from '../../../src/controlplane/build-controller.ts';
import { createKubeClients, type KubeClients } from '../../../src/controlplane/kube/kube-client.ts';
import { connect, kubeTestenv, type Cluster } from '../../support/kube-testenv/cluster.ts';
import {
  applyPolicy,
  capturingLogger,
  policyStatus,
  startLeadingController,
  waitFor,
} from '../controller-harness.ts';
import { clientsFor, deletePolicies, installCrd } from '../kube/kube-helpers.ts';
import { CHART_DIR, helmFor, one, type Helm } from './install-helpers.ts';

const env = kubeTestenv();
const TITLE = 'least privilege: the controller reads Secrets only where the chart lists';

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let admin: KubeClients;
  let helm: Helm;
  let releaseNs: string;
  let teamA: string;
  let teamB: string;
  let controller: Controller | undefined;
  const release = 'lp';
  const serviceAccount = 'lp-ai-circuit-breaker-controller';

  const canI = async (verb: string, namespace: string) => {
    const r = await cluster.kubectl([
      'auth',
      'can-i',
      verb,
      'secrets',
      '-n',
      namespace,
      '--as',
      `system:serviceaccount:${releaseNs}:${serviceAccount}`,
    ]);
    return r.stdout.trim();
  };

  /** Clients that authenticate with the controller's ServiceAccount token, not as an admin. */
  async function controllerClients(): Promise<KubeClients> {
    const answer = await admin.core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace: releaseNs,
      body: Object.assign(new AuthenticationV1TokenRequest(), {
        spec: { expirationSeconds: 3600 },
      }),
    });
    const base = new KubeConfig();
    base.loadFromFile(cluster.env.kubeconfig);
    const server = base.getCurrentCluster();
    if (server === null) throw new Error('no cluster in the test kubeconfig');
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [server],
      users: [{ name: 'controller', token: answer.status?.token ?? '' }],
      contexts: [{ name: 'controller', cluster: server.name, user: 'controller' }],
      currentContext: 'controller',
    });
    return createKubeClients(kubeConfig);
  }

  async function putSecret(namespace: string): Promise<void> {
    await admin.core.createNamespacedSecret({
      namespace,
      body: Object.assign(new V1Secret(), {
        metadata: { name: 'backup' },
        stringData: { 'api-key': `sk-${namespace}` },
      }),
    });
  }

  const specWithSecret = {
    upstreams: [
      { name: 'openai', provider: 'openai', baseURL: 'https://api.openai.com' },
      {
        name: 'backup',
        provider: 'openai-compatible',
        baseURL: 'https://backup.example',
        apiKey: { secretKeyRef: { name: 'backup', key: 'api-key' } },
      },
    ],
  };

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    admin = clientsFor(env);
    helm = helmFor(env);
    await installCrd(cluster);
    releaseNs = await cluster.createNamespace('aicb-lp');
    teamA = await cluster.createNamespace('team-a');
    teamB = await cluster.createNamespace('team-b');
    const install = await helm.run([
      'install',
      release,
      CHART_DIR,
      '-n',
      releaseNs,
      '--skip-crds',
      '--set',
      `rbac.secretNamespaces={${teamA}}`,
    ]);
    if (install.code !== 0) throw new Error(install.stderr);
  }, 60_000);

  afterAll(async () => {
    if (!env.available) return;
    await controller?.stop();
    await helm.run(['uninstall', release, '-n', releaseNs, '--wait', '--timeout', '60s']);
    await deletePolicies(cluster, [teamA, teamB]);
  });

  it('by default the ClusterRole reads Secrets everywhere; with the list, no ClusterRole does', async () => {
    const secretRule = (objects: Awaited<ReturnType<Helm['template']>>) =>
      (
        one(objects, 'ClusterRole', 'x-ai-circuit-breaker-controller').rules as {
          resources: string[];
        }[]
      ).some((r) => r.resources.includes('secrets'));
    expect(secretRule(await helm.template('x', 'aicb-system'))).toBe(true);
    const listed = await helm.template('x', 'aicb-system', [
      '--set',
      'rbac.secretNamespaces={shop,billing}',
    ]);
    expect(secretRule(listed)).toBe(false);
    expect(
      listed
        .filter((o) => o.kind === 'Role' && o.metadata.name === 'x-ai-circuit-breaker-secrets')
        .map((o) => o.metadata.namespace),
    ).toEqual(['shop', 'billing']);
    const args = (
      one(listed, 'Deployment').spec as {
        template: { spec: { containers: { args: string[] }[] } };
      }
    ).template.spec.containers[0]?.args;
    expect(args).toContain('--secret-namespaces=shop,billing');
  });

  it('lets the installed ServiceAccount read Secrets in the listed namespace only (kubectl auth can-i)', async () => {
    for (const verb of ['get', 'list', 'watch']) expect(await canI(verb, teamA)).toBe('yes');
    expect(await canI('get', teamB)).toBe('no');
    expect(await canI('get', 'kube-system')).toBe('no');
    expect(await canI('list', releaseNs)).toBe('no');
  });

  it('runs as that ServiceAccount: resolves Secrets where allowed, rejects SecretNotReadable elsewhere, never forbidden', async () => {
    await putSecret(teamA);
    await putSecret(teamB);
    const log = capturingLogger('debug');
    ({ controller } = await startLeadingController(await controllerClients(), releaseNs, 'lp-0', {
      logger: log.logger,
      secretNamespaces: [teamA],
    }));
    await applyPolicy(cluster, teamA, 'egress', specWithSecret);
    await applyPolicy(cluster, teamB, 'egress', specWithSecret);
    const accepted = async (namespace: string) =>
      (await policyStatus(admin, namespace, 'egress')).conditions?.find(
        (c) => c.type === 'Accepted',
      );
    expect(
      await waitFor('team A accepted', async () => {
        const c = await accepted(teamA);
        return c?.status === 'True' ? c : undefined;
      }),
    ).toMatchObject({ reason: 'Valid' });
    const rejected = await waitFor('team B rejected', async () => {
      const c = await accepted(teamB);
      return c?.status === 'False' ? c : undefined;
    });
    expect(rejected.reason).toBe('SecretNotReadable');
    expect(rejected.message).toContain(`does not read Secrets in namespace ${teamB}`);
    // No watch was ever opened where it would be refused.
    const refused = log.lines().filter((l) => /forbidden|HTTP 403/i.test(l));
    expect(refused).toEqual([]);
    // And the Secret value never reached a log line.
    expect(log.lines().some((l) => l.includes(`sk-${teamA}`))).toBe(false);
  });
});
