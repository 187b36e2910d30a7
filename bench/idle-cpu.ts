// `node bench/idle-cpu.ts [seconds] -- <command...>`: starts the command, waits for it to settle,
// then reports the CPU it uses while nothing talks to it, in milliseconds per second (every
// thread, from /proc/<pid>/task/*/schedstat). A sidecar runs in every pod, so what it burns
// doing nothing is paid once per pod. Example (issue 11 asks for at most 0.5 ms/s):
//
//   npm run build && node bench/idle-cpu.ts 60 -- node dist/cli/main.js sidecar --config examples/policy.yaml
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ChildProcesses } from './child-processes.ts';
import { rssMb, threadsCpuNs } from './proc-stats.ts';

const SETTLE_MS = 5000;

/** CPU of an already running process over `seconds`, in ms per second. */
export async function idleCpuMsPerS(pid: number, seconds: number): Promise<number> {
  const cpu0 = threadsCpuNs(pid);
  const t0 = process.hrtime.bigint();
  await sleep(seconds * 1000);
  const cpu = threadsCpuNs(pid) - cpu0;
  const wallNs = Number(process.hrtime.bigint() - t0);
  return (cpu / wallNs) * 1000;
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const dash = process.argv.indexOf('--');
  const seconds = Number(dash > 2 ? process.argv[2] : 60);
  const [file, ...args] = dash === -1 ? [] : process.argv.slice(dash + 1);
  if (file === undefined || !(seconds > 0)) {
    console.error('usage: node bench/idle-cpu.ts [seconds] -- <command...>');
    process.exit(2);
  }
  const processes = new ChildProcesses(process.cwd(), 'idle-cpu');
  process.on('SIGINT', () => void processes.stopAll().then(() => process.exit(130)));
  try {
    const proc = processes.start('measured', file, args);
    await sleep(SETTLE_MS);
    if (!processes.isRunning(proc)) throw new Error(`the command exited:\n${proc.output()}`);
    const msPerS = await idleCpuMsPerS(proc.pid, seconds);
    console.log(
      `idle CPU ${msPerS.toFixed(3)} ms/s over ${seconds} s; RSS ${rssMb(proc.pid).toFixed(1)} MB ` +
        `(${[file, ...args].join(' ')})`,
    );
  } finally {
    await processes.stopAll();
  }
}
