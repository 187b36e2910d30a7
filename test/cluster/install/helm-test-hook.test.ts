// The chart's `helm test` script (charts/ai-circuit-breaker/files/helm-test.mjs, the file the test
// hook runs), run with node against a real controller on a real kube-apiserver: it passes when a
// leader is Ready and the webhook answers over TLS the given CA signs, and names what is wrong
// otherwise (a standby behind the URL, a CA that did not sign the webhook's certificate).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildController, type Controller } from '../../../src/controlplane/build-controller.ts';
import type { KubeClients } from '../../../src/controlplane/kube/kube-client.ts';
import { systemClock } from '../../../src/shared/clock.ts';
import { createLogger } from '../../../src/shared/create-logger.ts';
import { connect, kubeTestenv, type Cluster } from '../../support/kube-testenv/cluster.ts';
import { makeTestTls, type TestTls } from '../../support/test-tls.ts';
import { startLeadingController } from '../controller-harness.ts';
import { clientsFor, installCrd } from '../kube/kube-helpers.ts';
import { CHART_DIR } from './install-helpers.ts';

const env = kubeTestenv();
const TITLE = 'the chart’s helm test script against a real controller';
const SCRIPT = join(CHART_DIR, 'files', 'helm-test.mjs');

function runScript(vars: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT], {
      env: { PATH: process.env.PATH, ...vars },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, output });
    });
  });
}

describe.skipIf(!env.available)(env.available ? TITLE : `${TITLE} (skipped: ${env.reason})`, () => {
  let cluster: Cluster;
  let clients: KubeClients;
  let leaseNs: string;
  let tls: TestTls;
  let other: TestTls;
  let leader: Controller;
  let standby: Controller | undefined;
  let vars: Record<string, string>;

  const webhook = (name: string) => ({
    host: '127.0.0.1',
    port: 0,
    https: { cert: tls.cert, key: tls.key },
    config: {
      image: 'registry.example/ai-circuit-breaker:0.1.0',
      imagePullPolicy: 'IfNotPresent',
      controllerUrl: `https://${name}.example:15402`,
      caBundle: tls.ca,
      resources: {},
      excludedNamespaces: ['kube-system', leaseNs],
      nodeOptions: '',
      logLevel: 'info',
    },
  });

  beforeAll(async () => {
    if (!env.available) return;
    cluster = connect(env);
    clients = clientsFor(env);
    await installCrd(cluster);
    leaseNs = await cluster.createNamespace('helm-test');
    tls = makeTestTls();
    other = makeTestTls();
    const started = await startLeadingController(clients, leaseNs, 'hook-a', {
      webhook: webhook('hook-a'),
    });
    leader = started.controller;
    vars = {
      AICB_READYZ_URL: `${started.adminUrl}/readyz`,
      AICB_WEBHOOK_URL: `${started.webhookUrl ?? ''}/mutate-pods`,
      AICB_CA_FILE: tls.caFile,
      AICB_NAMESPACE: leaseNs,
    };
  }, 60_000);

  afterAll(async () => {
    if (!env.available) return;
    await standby?.stop();
    await leader.stop();
    tls.cleanup();
    other.cleanup();
  });

  it('passes against a leading, Ready controller and its webhook', async () => {
    const r = await runScript(vars);
    expect(r.output).toMatch(
      /^ok {3}controller: a leader answers at .*\/readyz \(0 sidecars connected\)$/m,
    );
    expect(r.output).toMatch(
      /^ok {3}webhook: the webhook answers at .* over TLS signed by the chart's CA$/m,
    );
    expect(r.code).toBe(0);
  });

  it('fails, naming it, when the Service reaches a standby', async () => {
    // Another replica in the same Lease namespace: it syncs but never leads while hook-a does.
    standby = buildController({
      clients,
      logger: createLogger({ level: 'silent' }),
      clock: systemClock,
      identity: 'hook-b',
      leaseNamespace: leaseNs,
      delivery: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      collectProcessMetrics: false,
    });
    await standby.start();
    const { adminUrl } = await standby.listen();
    const r = await runScript({ ...vars, AICB_READYZ_URL: `${adminUrl}/readyz` });
    expect(r.output).toMatch(
      /^FAIL controller: expected 200 \{"status":"leader"\} from .*, got (200 \{"status":"standby"|503)/m,
    );
    expect(r.code).toBe(1);
  });

  it('fails, naming it, when the CA did not sign the webhook certificate', async () => {
    const r = await runScript({ ...vars, AICB_CA_FILE: other.caFile });
    expect(r.output).toMatch(/^ok {3}controller/m);
    expect(r.output).toMatch(/^FAIL webhook: .*(self-signed|unable to verify|certificate)/m);
    expect(r.code).toBe(1);
  });
});
