// /proc readings shared by the benchmarks: CPU time of a process, resident memory, and the CPU
// that processes a benchmark did not start used meanwhile (another session's tests, say), which
// is what makes a run's numbers suspect on a 2-core machine. Linux only, like the benchmarks.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Kernel clock ticks per second, the unit of the CPU times in /proc. */
export const CLK_TCK = (() => {
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
})();

/** User + system CPU seconds of a process (all threads); with `children`, also its reaped children. */
export function cpuSeconds(pid: number | 'self', children = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces; fields after it are fixed. f[0] is field 3 (state);
  // utime, stime, cutime, cstime are fields 14–17.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const fields = children ? [11, 12, 13, 14] : [11, 12];
  return fields.reduce((sum, i) => sum + Number(f[i]), 0) / CLK_TCK;
}

function statusMb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
  return match?.[1] === undefined ? Number.NaN : Number(match[1]) / 1024;
}

/** Resident memory now, in MB. */
export const rssMb = (pid: number) => statusMb(pid, 'VmRSS');

/** The largest resident memory the process ever had (the kernel's high-water mark), in MB. */
export const hwmMb = (pid: number) => statusMb(pid, 'VmHWM');

/** CPU seconds the whole machine spent busy (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal ...
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (
    ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) /
    CLK_TCK
  );
}

/** CPU seconds of this process, its reaped children, and the given children still running. */
export function ownCpuSeconds(running: Iterable<number>): number {
  let children = 0;
  for (const pid of running) {
    try {
      children += cpuSeconds(pid);
    } catch {
      // exited between the listing and the read; counted in cutime once reaped
    }
  }
  return cpuSeconds('self', true) + children;
}

/**
 * Starts measuring CPU used on the machine by processes this benchmark did not start. `running`
 * lists the benchmark's live child processes at the time of each reading. The stop function
 * returns the average in cores; anything well above zero means the run competed for the cores.
 */
export function foreignLoad(running: () => Iterable<number>): () => number {
  const wall0 = Date.now();
  const busy0 = machineBusySeconds();
  const own0 = ownCpuSeconds(running());
  return () => {
    const wall = (Date.now() - wall0) / 1000;
    const foreign = machineBusySeconds() - busy0 - (ownCpuSeconds(running()) - own0);
    return Math.max(0, foreign) / wall;
  };
}

/** Samples VmRSS every `everyMs` until stopped; returns the largest sample in MB. */
export function sampleRss(pid: number, everyMs = 100): () => number {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // the process is gone; the measurement will fail elsewhere
    }
  }, everyMs);
  return () => {
    clearInterval(timer);
    return Math.max(peak, rssMb(pid));
  };
}

/**
 * CPU time of every thread of a process in nanoseconds, from /proc/<pid>/task/<tid>/schedstat
 * (time on CPU, field 1). /proc/<pid>/stat counts in clock ticks (10 ms), too coarse for an idle
 * process that should use well under a millisecond per second; V8's and libuv's helper threads
 * are included, as the kernel charges them to the pod too.
 */
export function threadsCpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read; its time is no longer attributable
    }
  }
  return total;
}
