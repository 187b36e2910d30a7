// vitest globalSetup of the `e2e` project: builds what the suite runs (the Kubernetes node
// binaries, the product image from the repository's Dockerfile, the app image), brings the
// single-node cluster up, imports the images into its containerd, and hands the tests the
// cluster. Its teardown takes the cluster down whatever happened and then checks that nothing
// is left on the host (processes, mounts, interfaces, cgroups); a leftover fails the run.
//
// A missing prerequisite (root, packages, kernel features) skips the suite with the reason
// printed, unless REQUIRE_E2E=1 (CI), where it is an error.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import type { E2eEnv } from './context.ts';
import { CLUSTER_DIR, leftovers } from './host-leftovers.ts';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const KUBE_TESTENV = join(REPO_ROOT, 'tools', 'kube-testenv');
const IMAGE_BUILD = join(REPO_ROOT, 'tools', 'image', 'build.sh');
const IMAGE = { repository: 'ai-circuit-breaker', tag: 'e2e' } as const;
const APP_IMAGE = 'aicb-e2e-app:1';

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

interface Ran {
  readonly stdout: string;
  readonly seconds: number;
}

/** Runs a tool script; its stderr (progress) is shown as it comes; throws on failure. */
function runTool(command: string, args: readonly string[], timeoutMs: number): Promise<Ran> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: timeoutMs,
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, seconds: (performance.now() - start) / 1000 });
      else
        reject(
          new Error(`${command} ${args.join(' ')} failed (${String(code ?? signal)}); see above`),
        );
    });
  });
}

/** Fields of the `KEY=value` file cluster-up.sh writes next to its kubeconfig. */
function clusterEnv(kubeconfig: string): Record<string, string> {
  const file = join(kubeconfig, '..', 'cluster.env');
  return Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

async function clusterDown(): Promise<void> {
  await runTool('bash', [join(KUBE_TESTENV, 'cluster-down.sh')], 180_000);
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

  const work = mkdtempSync(join(tmpdir(), 'aicb-e2e-'));
  let clusterStarted = false;
  try {
    const controlPlane = (
      await runTool('bash', [join(KUBE_TESTENV, 'build.sh')], 1_800_000)
    ).stdout.trim();
    await runTool('bash', [join(KUBE_TESTENV, 'build.sh'), '--node'], 1_800_000);

    const product = await runTool(
      'bash',
      [
        IMAGE_BUILD,
        REPO_ROOT,
        join(REPO_ROOT, 'Dockerfile'),
        `docker.io/library/${IMAGE.repository}:${IMAGE.tag}`,
        join(work, 'product.tar'),
      ],
      1_200_000,
    );
    const [archiveBytes = '0', ...sizeWords] = product.stdout.trim().split(' ');
    const imageSize = sizeWords.join(' ');
    const imageArchiveBytes = Number(archiveBytes);
    // The app's build context: its sources and the repository's copy of the openai SDK.
    const appContext = join(work, 'app');
    cpSync(join(REPO_ROOT, 'test', 'e2e', 'app'), appContext, { recursive: true });
    cpSync(join(REPO_ROOT, 'node_modules', 'openai'), join(appContext, 'node_modules', 'openai'), {
      recursive: true,
    });
    await runTool(
      'bash',
      [
        IMAGE_BUILD,
        appContext,
        join(appContext, 'Dockerfile'),
        `docker.io/library/${APP_IMAGE}`,
        join(work, 'app.tar'),
      ],
      1_200_000,
    );

    // Refuse before touching anything: that cluster is someone else's to take down.
    if (existsSync(CLUSTER_DIR)) throw new Error(`e2e: a cluster is already up (${CLUSTER_DIR})`);
    clusterStarted = true;
    const up = await runTool('bash', [join(KUBE_TESTENV, 'cluster-up.sh')], 600_000);
    const kubeconfig = up.stdout.trim().split('\n').at(-1) ?? '';
    const env = clusterEnv(kubeconfig);
    const importStart = performance.now();
    for (const archive of ['product.tar', 'app.tar']) {
      await runTool(
        'ctr',
        [
          '--address',
          env.CONTAINERD_ADDRESS ?? '',
          '--namespace',
          'k8s.io',
          'images',
          'import',
          join(work, archive),
        ],
        300_000,
      );
    }
    const imageImportSeconds = (performance.now() - importStart) / 1000;
    console.log(
      `e2e: cluster up in ${up.seconds.toFixed(1)}s; product image ${imageSize} ` +
        `(built in ${product.seconds.toFixed(0)}s); images imported in ${imageImportSeconds.toFixed(1)}s`,
    );
    project.provide('e2e', {
      available: true,
      kubeconfig,
      helm: join(controlPlane, 'helm'),
      nodeIp: env.NODE_IP ?? '',
      nodeName: env.NODE_NAME ?? '',
      image: IMAGE,
      appImage: APP_IMAGE,
      setup: {
        imageSize,
        imageArchiveBytes,
        imageBuildSeconds: product.seconds,
        clusterUpSeconds: up.seconds,
        imageImportSeconds,
      },
    } satisfies E2eEnv);
  } catch (err) {
    if (clusterStarted) await clusterDown().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    throw err;
  }

  return async () => {
    const problems: string[] = [];
    await clusterDown().catch((err: unknown) => problems.push(String(err)));
    rmSync(work, { recursive: true, force: true });
    problems.push(...leftovers());
    if (problems.length > 0) {
      throw new Error(`e2e: the run left things behind on the host:\n  ${problems.join('\n  ')}`);
    }
    console.log('e2e: cluster down; no processes, mounts, interfaces or cgroups left behind');
  };
}
