// deploy/: the kustomize base is exactly what deploy/render.sh renders from the chart now
// (drift check), it builds with kubectl's kustomize and passes a server dry run, as does the
// own-TLS overlay; the example policies are valid offline and on the API server.
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parsePolicyDocuments } from '../../../src/policy/parse-policy-documents.ts';
import { REPO_ROOT } from '../../support/fixtures.ts';
import { connect, kubeTestenv, type Cluster } from '../../support/kube-testenv/cluster.ts';
import { installCrd } from '../kube/kube-helpers.ts';
import {
  helmFor,
  isForeign,
  kubectlName,
  one,
  parseObjects,
  run,
  toYamlStream,
  type KubeObject,
} from './install-helpers.ts';

const env = kubeTestenv();
const TITLE = 'deploy/: kustomize base rendered from the chart, overlay and example policies';
const DEPLOY = join(REPO_ROOT, 'deploy');
const BASE = join(DEPLOY, 'base');
const EXAMPLES = join(DEPLOY, 'examples');
const BASE_NS = 'aicb-system';

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let helmPath: string;

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    helmPath = helmFor(env).path;
    await installCrd(cluster);
  });

  it('deploy/base is up to date with the chart (run deploy/render.sh when this fails)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'aicb-render-'));
    const r = await run('bash', [join(DEPLOY, 'render.sh'), out], {
      env: { ...process.env, HELM: helmPath },
    });
    expect(r.stderr).toContain('render.sh: wrote');
    expect(r.code).toBe(0);
    const files = readdirSync(out).sort();
    expect(readdirSync(BASE).sort()).toEqual(files);
    for (const file of files) {
      const fresh = readFileSync(join(out, file), 'utf8');
      const committed = readFileSync(join(BASE, file), 'utf8');
      expect(committed === fresh, `deploy/base/${file} differs from deploy/render.sh output`).toBe(
        true,
      );
    }
  });

  it('the base is the chart in cert-manager mode plus the Namespace and the CRD', async () => {
    const built = await cluster.kubectl(['kustomize', BASE]);
    expect(built.code).toBe(0);
    const objects = parseObjects(built.stdout);
    expect(one(objects, 'Namespace').metadata.name).toBe(BASE_NS);
    expect(one(objects, 'CustomResourceDefinition').metadata.name).toBe(
      'aicircuitpolicies.aicircuit.io',
    );
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(one(objects, 'Certificate', 'ai-circuit-breaker-tls')).toBeDefined();
    expect(
      one(objects, 'MutatingWebhookConfiguration').metadata.annotations?.[
        'cert-manager.io/inject-ca-from'
      ],
    ).toBe(`${BASE_NS}/ai-circuit-breaker-tls`);
    for (const o of objects.filter((x) => x.metadata.namespace !== undefined)) {
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(BASE_NS);
    }
  });

  describe('kubectl apply --dry-run=server', () => {
    beforeAll(async () => {
      // A dry run does not create the Namespace the other objects live in: apply it for real.
      const created = await cluster.kubectl(['apply', '-f', join(BASE, 'namespace.yaml')]);
      if (created.code !== 0) throw new Error(created.output);
    });

    async function dryRunKustomization(dir: string, edit = (text: string) => text) {
      const built = await cluster.kubectl(['kustomize', dir]);
      expect(built.code).toBe(0);
      const objects = parseObjects(edit(built.stdout)).filter(
        // The CRD is installed already (server-side, as the tests do).
        (o) => !isForeign(o) && o.kind !== 'CustomResourceDefinition',
      );
      const applied = await cluster.kubectl(
        ['apply', '--dry-run=server', '--validate=strict', '-f', '-'],
        { input: toYamlStream(objects) },
      );
      return { objects, applied };
    }

    it('deploy/base: every object but the cert-manager ones is accepted', async () => {
      const { objects, applied } = await dryRunKustomization(BASE);
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      for (const o of objects) {
        expect(applied.stdout).toMatch(
          new RegExp(
            `^${escape(kubectlName(o))} (created|configured|unchanged) \\(server dry run\\)$`,
            'm',
          ),
        );
      }
    });

    it('deploy/overlays/own-tls: no cert-manager objects or annotation, the CA inline', async () => {
      const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nplaceholder\n').toString('base64');
      const { objects, applied } = await dryRunKustomization(
        join(DEPLOY, 'overlays', 'own-tls'),
        (text) => text.replaceAll('CA_BUNDLE', ca),
      );
      expect(applied.stderr).toBe('');
      expect(applied.code).toBe(0);
      const built = parseObjects(
        (await cluster.kubectl(['kustomize', join(DEPLOY, 'overlays', 'own-tls')])).stdout,
      );
      expect(built.filter(isForeign)).toEqual([]);
      const webhook = one(objects, 'MutatingWebhookConfiguration');
      expect(webhook.metadata.annotations ?? {}).toEqual({});
      expect(
        (webhook.webhooks as { clientConfig: { caBundle?: string } }[]).map(
          (w) => w.clientConfig.caBundle,
        ),
      ).toEqual([ca, ca]);
    });
  });

  describe('deploy/examples', () => {
    const files = readdirSync(EXAMPLES)
      .filter((f) => f.endsWith('.yaml'))
      .sort();

    it('has examples', () => {
      expect(files.length).toBeGreaterThanOrEqual(4);
    });

    it.each(files)(
      '%s: valid offline (aicb validate) and accepted by the API server',
      async (file) => {
        const text = readFileSync(join(EXAMPLES, file), 'utf8');
        expect(text.startsWith('#'), `${file} starts with a comment saying what it shows`).toBe(
          true,
        );
        const documents = parsePolicyDocuments(text);
        expect(documents.length).toBeGreaterThan(0);
        for (const d of documents) expect(d.result.ok, JSON.stringify(d.result)).toBe(true);
        const objects: KubeObject[] = parseObjects(text);
        // Namespace-free, so that `kubectl apply -n <ns>` works for any namespace.
        for (const o of objects) expect(o.metadata.namespace).toBeUndefined();
        const ns = await cluster.createNamespace('aicb-examples');
        const applied = await cluster.kubectl([
          'apply',
          '--dry-run=server',
          '--validate=strict',
          '-n',
          ns,
          '-f',
          join(EXAMPLES, file),
        ]);
        expect(applied.stderr).toBe('');
        expect(applied.code).toBe(0);
      },
    );
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
