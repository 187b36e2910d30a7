// vitest globalSetup of the `e2e` project: builds what the suite runs (the Kubernetes binaries,
// the product image from the repository's Dockerfile, the app image) once per run. Each test
// file brings its own single-node cluster up and down (cluster-lifecycle.ts); the teardown
// here takes down a cluster a crashed test file left, and then checks that nothing is left on
// the host (processes, mounts, interfaces, cgroups): a leftover fails the run.
//
// A missing prerequisite (root, packages, kernel features) skips the suite with the reason
// printed, unless REQUIRE_E2E=1 (CI), where it is an error.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { clusterDown } from './cluster-lifecycle.ts';
import type { E2eEnv } from './context.ts';
import { CLUSTER_DIR, leftovers } from './host-leftovers.ts';
import { KUBE_TESTENV, REPO_ROOT, runToolOk } from './tool-run.ts';

const IMAGE_BUILD = join(REPO_ROOT, 'tools', 'image', 'build.sh');

export const HOW_TO_RUN =
  'test:e2e runs a real single-node Kubernetes cluster on this machine. It needs:\n' +
  '  - root, network namespaces, overlayfs and cgroups (a VM or a privileged container);\n' +
  '  - Debian packages: containerd runc containernetworking-plugins iptables nftables\n' +
  '    buildah debootstrap busybox-static curl openssl, and kubectl on PATH;\n' +
  '  - Go >= 1.24 with the Go module proxy (the node binaries are built and cached once).\n' +
  'See the README section "Running the end-to-end tests".';

const COMMANDS = [
  'containerd',
  'containerd-shim-runc-v2',
  'ctr',
  'runc',
  'iptables',
  'nft',
  'ip',
  'buildah',
  'debootstrap',
  'busybox',
  'curl',
  'openssl',
  'kubectl',
  'go',
];

function missingPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('not root');
  const path = (process.env.PATH ?? '').split(':');
  for (const command of COMMANDS) {
    if (!path.some((dir) => existsSync(join(dir, command)))) missing.push(`no ${command} on PATH`);
  }
  if (!existsSync('/usr/lib/cni/bridge')) missing.push('no CNI plugins in /usr/lib/cni');
  if (!readFileSync('/proc/filesystems', 'utf8').includes('overlay')) missing.push('no overlayfs');
  if (!existsSync('/proc/self/ns/net')) missing.push('no network namespaces');
  if (!existsSync('/sys/fs/cgroup')) missing.push('no cgroups');
  return missing;
}

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const required = process.env.REQUIRE_E2E === '1';
  const missing = missingPrerequisites();
  if (missing.length > 0) {
    const reason = missing.join('; ');
    if (required) throw new Error(`e2e: REQUIRE_E2E=1 but ${reason}\n${HOW_TO_RUN}`);
    console.warn(
      `\ne2e: SKIPPING test:e2e: ${reason}\n${HOW_TO_RUN}\nSet REQUIRE_E2E=1 to make this an error.\n`,
    );
    project.provide('e2e', { available: false, reason } satisfies E2eEnv);
    return undefined;
  }
  // The suite's clusters use fixed host resources: another cluster is someone else's to end.
  if (existsSync(CLUSTER_DIR)) {
    throw new Error(`e2e: a cluster is up already (${CLUSTER_DIR}); take it down first`);
  }

  const work = mkdtempSync(join(tmpdir(), 'aicb-e2e-'));
  const progress = { timeoutMs: 1_800_000, showProgress: true };
  try {
    const controlPlane = await runToolOk('bash', [join(KUBE_TESTENV, 'build.sh')], progress);
    await runToolOk('bash', [join(KUBE_TESTENV, 'build.sh'), '--node'], progress);

    const repository = 'ai-circuit-breaker';
    const tag = 'e2e';
    const archive = join(work, 'product.tar');
    const product = await runToolOk(
      'bash',
      [
        IMAGE_BUILD,
        REPO_ROOT,
        join(REPO_ROOT, 'Dockerfile'),
        `docker.io/library/${repository}:${tag}`,
        archive,
      ],
      progress,
    );
    const [archiveBytes = '0', ...sizeWords] = product.stdout.trim().split(' ');
    // The app's build context: its sources and the repository's copy of the openai SDK.
    const appContext = join(work, 'app');
    cpSync(join(REPO_ROOT, 'test', 'e2e', 'app'), appContext, { recursive: true });
    cpSync(join(REPO_ROOT, 'node_modules', 'openai'), join(appContext, 'node_modules', 'openai'), {
      recursive: true,
    });
    const appName = 'aicb-e2e-app:1';
    const appArchive = join(work, 'app.tar');
    await runToolOk(
      'bash',
      [
        IMAGE_BUILD,
        appContext,
        join(appContext, 'Dockerfile'),
        `docker.io/library/${appName}`,
        appArchive,
      ],
      progress,
    );
    const size = sizeWords.join(' ');
    console.log(`e2e: product image ${size}, built in ${product.seconds.toFixed(0)}s`);
    project.provide('e2e', {
      available: true,
      controlPlaneAssets: controlPlane.stdout.trim(),
      image: {
        repository,
        tag,
        archive,
        size,
        archiveBytes: Number(archiveBytes),
        buildSeconds: product.seconds,
      },
      appImage: { name: appName, archive: appArchive },
    } satisfies E2eEnv);
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }

  return async () => {
    const problems: string[] = [];
    if (existsSync(CLUSTER_DIR)) {
      problems.push(`a test file left its cluster up (${CLUSTER_DIR}); taking it down`);
      await clusterDown().catch((err: unknown) => problems.push(String(err)));
    }
    rmSync(work, { recursive: true, force: true });
    problems.push(...leftovers());
    if (problems.length > 0) {
      throw new Error(`e2e: the run left things behind on the host:\n  ${problems.join('\n  ')}`);
    }
    console.log(
      'e2e: no processes, mounts, interfaces or cgroups of a cluster are left on the host',
    );
  };
}
