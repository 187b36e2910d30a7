// Brings the single-node cluster up and down for one test file (tools/kube-testenv/
// cluster-up.sh and cluster-down.sh) and imports the suite's images into its containerd.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { E2eReady } from './context.ts';
import { KUBE_TESTENV, runToolOk } from './tool-run.ts';

export interface RunningCluster {
  /** Admin kubeconfig. */
  readonly kubeconfig: string;
  readonly containerdAddress: string;
  /** The node's address on the cluster bridge: fake providers listen here for the pods. */
  readonly nodeIp: string;
  readonly nodeName: string;
  readonly upSeconds: number;
  readonly importSeconds: number;
}

export async function clusterUp(env: E2eReady): Promise<RunningCluster> {
  const up = await runToolOk('bash', [join(KUBE_TESTENV, 'cluster-up.sh')], {
    timeoutMs: 600_000,
    showProgress: true,
  });
  const kubeconfig = up.stdout.trim().split('\n').at(-1) ?? '';
  // KEY=value lines cluster-up.sh writes next to the kubeconfig.
  const fields = Object.fromEntries(
    readFileSync(join(kubeconfig, '..', 'cluster.env'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  const containerdAddress = fields.CONTAINERD_ADDRESS ?? '';
  const start = performance.now();
  for (const archive of [env.image.archive, env.appImage.archive]) {
    await runToolOk(
      'ctr',
      ['--address', containerdAddress, '--namespace', 'k8s.io', 'images', 'import', archive],
      { timeoutMs: 300_000 },
    );
  }
  return {
    kubeconfig,
    containerdAddress,
    nodeIp: fields.NODE_IP ?? '',
    nodeName: fields.NODE_NAME ?? '',
    upSeconds: up.seconds,
    importSeconds: (performance.now() - start) / 1000,
  };
}

/** cluster-down.sh; throws (with what it found left behind) unless the host is restored. */
export async function clusterDown(): Promise<void> {
  await runToolOk('bash', [join(KUBE_TESTENV, 'cluster-down.sh')], {
    timeoutMs: 300_000,
    showProgress: true,
  });
}
