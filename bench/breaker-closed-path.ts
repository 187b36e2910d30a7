// Cost of the breaker's hot path: tryAcquire() + recordSuccess() on a CLOSED breaker, the work
// the sidecar adds to every proxied request. Run with `npm run bench:breaker` (Node 24 from
// node_modules, --expose-gc). Prints measured numbers; asserts nothing (targets: < 300 ns per
// call, 0 bytes allocated per call).
//
// Time: process.hrtime.bigint() around ITERATIONS calls after a warm-up that lets V8 optimise the
// loop; several rounds, median reported.
//
// Allocation: V8 on Node 24 exposes no cumulative "bytes allocated" counter, so we use the young
// generation as one. After a full gc() the heap's used size grows by exactly what the loop
// allocates, as long as no GC runs during the loop (a scavenge would free it and hide it). So:
// gc(); read used_heap_size; run N calls; read used_heap_size again; subtract the same reading
// around a no-op (the cost of measuring), divide by N. v8.GCProfiler reports synchronously whether
// any GC ran inside the measured span; such a sample is discarded and retried with a smaller N.
// A control loop that allocates one small object per call shows the method does see allocation.
//
// Reading the time allocates in Node itself: performance.now() and Date.now() return a boxed
// double (a 16-byte HeapNumber) on every call. The closed path reads the clock once per outcome
// (to pick the window bucket), so with the real clock it shows those 16 bytes; the ManualClock
// row (integer time, no boxing) isolates the breaker's own code.
import v8 from 'node:v8';
import { BreakerRegistry, CircuitBreaker, DEFAULT_BREAKER_CONFIG } from '../src/breaker/index.ts';
import { ManualClock } from '../src/shared/clock.ts';

const ITERATIONS = 10_000_000;
const ROUNDS = 5;
const WARMUP = 2_000_000;
const ALLOC_ITERATIONS = 20_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with --expose-gc (npm run bench:breaker)');
  process.exit(1);
}

type Loop = (iterations: number) => void;

function timeNsPerCall(loop: Loop, iterations: number): number {
  const start = process.hrtime.bigint();
  loop(iterations);
  return Number(process.hrtime.bigint() - start) / iterations;
}

/** Heap growth of one run with no GC inside it, in bytes, or null if a GC interfered. */
function heapGrowth(loop: Loop, iterations: number): number | null {
  gc?.();
  const profiler = new v8.GCProfiler();
  profiler.start();
  const before = v8.getHeapStatistics().used_heap_size;
  loop(iterations);
  const after = v8.getHeapStatistics().used_heap_size;
  const gcs = profiler.stop().statistics.length;
  return gcs === 0 ? after - before : null;
}

function bytesPerCall(loop: Loop): number | string {
  for (let n = ALLOC_ITERATIONS; n >= 1_000; n = Math.floor(n / 4)) {
    const samples: number[] = [];
    for (let i = 0; i < 3; i++) {
      const grown = heapGrowth(loop, n);
      const overhead = heapGrowth(noop, n);
      if (grown === null || overhead === null) break;
      samples.push(Math.max(0, grown - overhead) / n);
    }
    if (samples.length === 3) return median(samples);
  }
  return 'n/a (GC in every sample)';
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

let sink: unknown;

const noop: Loop = () => undefined;

function closedPathLoop(breaker: CircuitBreaker): Loop {
  return (iterations) => {
    for (let i = 0; i < iterations; i++) {
      const ticket = breaker.tryAcquire();
      if (ticket.admitted) breaker.recordSuccess(ticket, 12);
    }
  };
}

function registryLoop(registry: BreakerRegistry, key: string): Loop {
  return (iterations) => {
    for (let i = 0; i < iterations; i++) {
      const breaker = registry.get(key);
      const ticket = breaker.tryAcquire();
      if (ticket.admitted) breaker.recordSuccess(ticket, 12);
    }
  };
}

function rejectLoop(breaker: CircuitBreaker): Loop {
  return (iterations) => {
    for (let i = 0; i < iterations; i++) sink = breaker.tryAcquire();
  };
}

const controlLoop: Loop = (iterations) => {
  for (let i = 0; i < iterations; i++) sink = { a: i, b: i };
};

interface Case {
  readonly name: string;
  readonly loop: Loop;
  readonly iterations: number;
  readonly rounds: number;
}

const withRules = new CircuitBreaker({
  key: 'openai|chat',
  config: {
    ...DEFAULT_BREAKER_CONFIG,
    failureRate: { basisPoints: 5_000, minimumRequests: 20 },
    slowCall: { basisPoints: 8_000, minimumRequests: 20, durationMs: 60_000 },
    adaptive: [{ minRequestsPerMinute: 600, failureThreshold: 20 }],
  },
});
const registry = new BreakerRegistry();
registry.get('anthropic|chat');
const open = new CircuitBreaker({ key: 'down' });
open.openFor(24 * 3_600_000);

const cases: Case[] = [
  {
    name: 'closed: tryAcquire + recordSuccess (defaults)',
    loop: closedPathLoop(new CircuitBreaker({ key: 'openai|chat' })),
    iterations: ITERATIONS,
    rounds: ROUNDS,
  },
  {
    name: 'closed: same, ManualClock (breaker code only)',
    loop: closedPathLoop(new CircuitBreaker({ key: 'openai|chat', clock: new ManualClock(0) })),
    iterations: ITERATIONS,
    rounds: ROUNDS,
  },
  {
    name: 'closed: + failure-rate, slow-call, adaptive rules',
    loop: closedPathLoop(withRules),
    iterations: ITERATIONS,
    rounds: ROUNDS,
  },
  {
    name: 'closed: registry.get(key) + tryAcquire + recordSuccess',
    loop: registryLoop(registry, 'anthropic|chat'),
    iterations: ITERATIONS,
    rounds: ROUNDS,
  },
  {
    name: 'open: tryAcquire -> Rejection (fail fast)',
    loop: rejectLoop(open),
    iterations: ITERATIONS / 2,
    rounds: 3,
  },
  {
    name: 'control: allocates {a, b} per call',
    loop: controlLoop,
    iterations: ITERATIONS / 2,
    rounds: 3,
  },
];

console.log(`node ${process.version}, ${String(ITERATIONS)} iterations per round`);
const rows = [];
for (const c of cases) {
  c.loop(WARMUP);
  const times: number[] = [];
  for (let r = 0; r < c.rounds; r++) times.push(timeNsPerCall(c.loop, c.iterations));
  const bytes = bytesPerCall(c.loop);
  rows.push({
    case: c.name,
    'median ns/call': Number(median(times).toFixed(1)),
    'min ns/call': Number(Math.min(...times).toFixed(1)),
    'bytes/call': typeof bytes === 'number' ? Number(bytes.toFixed(2)) : bytes,
  });
}
console.table(rows);
if (sink === Symbol.for('never')) console.log(sink);
