// The e2e suite's own check that the cluster left nothing on the host, independent of
// cluster-down.sh's: processes naming the cluster directory, mounts under it, the bridge, veth
// interfaces, kubepods cgroups, the directory itself.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where tools/kube-testenv/cluster-up.sh keeps the cluster (same default, same variable). */
export const CLUSTER_DIR = process.env.AICB_CLUSTER_DIR ?? '/var/tmp/aicb-cluster';
const BRIDGE = 'aicb0';

export function leftovers(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue; // exited meanwhile
    }
    if (cmdline.includes(`${CLUSTER_DIR}/`)) found.push(`process ${pid}: ${cmdline.slice(0, 120)}`);
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint?.startsWith(CLUSTER_DIR) === true) found.push(`mount ${mountPoint}`);
  }
  const links = readdirSync('/sys/class/net');
  if (links.includes(BRIDGE)) found.push(`interface ${BRIDGE}`);
  for (const link of links.filter((l) => l.startsWith('veth'))) found.push(`interface ${link}`);
  for (const hierarchy of existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : []) {
    const kubepods = join('/sys/fs/cgroup', hierarchy, 'kubepods');
    if (existsSync(kubepods)) found.push(`cgroup ${kubepods}`);
  }
  if (existsSync('/sys/fs/cgroup/kubepods')) found.push('cgroup /sys/fs/cgroup/kubepods');
  if (existsSync(CLUSTER_DIR)) found.push(`directory ${CLUSTER_DIR}`);
  return found;
}
