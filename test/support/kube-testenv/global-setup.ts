// vitest globalSetup of the `cluster` project: one real control plane (etcd + kube-apiserver)
// per run, handed to the tests with `provide('kubeTestenv', ...)`. Tests isolate themselves
// by namespace (see cluster.ts).
//
// Binaries missing and not buildable: the cluster tests are skipped with the reason printed,
// unless REQUIRE_KUBE_TESTENV=1 (CI), where the run fails with how to provide them.
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { KubeTestenv } from './context.ts';
import { HOW_TO_PROVIDE, findOrBuildAssets, startControlPlane } from './control-plane.ts';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const required = process.env.REQUIRE_KUBE_TESTENV === '1';
  const assets = await findOrBuildAssets(REPO_ROOT);
  if (!assets.ok) {
    if (required) {
      throw new Error(
        `kube-testenv: REQUIRE_KUBE_TESTENV=1 but no kube-apiserver/etcd/helm: ${assets.reason}\n` +
          HOW_TO_PROVIDE,
      );
    }
    const reason = `no kube-apiserver/etcd/helm (${assets.reason})`;
    console.warn(
      `\nkube-testenv: SKIPPING the cluster tests: ${reason}\n${HOW_TO_PROVIDE}\n` +
        'Set REQUIRE_KUBE_TESTENV=1 to make this an error.\n',
    );
    project.provide('kubeTestenv', { available: false, reason } satisfies KubeTestenv);
    return undefined;
  }

  const cp = await startControlPlane(assets.dir);
  console.log(
    `kube-testenv: control plane ready in ${(cp.startMs / 1000).toFixed(2)}s ` +
      `(spawn to /readyz ok; etcd healthy after ${(cp.etcdMs / 1000).toFixed(2)}s) ` +
      `at ${cp.server}, kubeconfig ${cp.kubeconfig}, binaries ${cp.assetsDir}`,
  );
  project.provide('kubeTestenv', {
    available: true,
    kubeconfig: cp.kubeconfig,
    server: cp.server,
    token: cp.token,
    assetsDir: cp.assetsDir,
    kubectlCacheDir: cp.kubectlCacheDir,
  } satisfies KubeTestenv);

  return async () => {
    const t0 = performance.now();
    await cp.stop();
    console.log(
      `kube-testenv: control plane stopped in ${((performance.now() - t0) / 1000).toFixed(2)}s`,
    );
  };
}
