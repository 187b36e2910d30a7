// Starts a real sidecar (proxy + admin on loopback port 0) on a policy, with a ManualClock for
// breaker time and a captured log, for integration tests.
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { buildSidecar, type Sidecar } from '../../src/dataplane/build-sidecar.ts';
import { compilePolicyText } from '../../src/dataplane/config/policy-file.ts';
import { ManualClock, systemClock } from '../../src/shared/clock.ts';
import { createLogger } from '../../src/shared/create-logger.ts';

export interface RunningSidecar {
  readonly sidecar: Sidecar;
  /** e.g. http://127.0.0.1:40001 */
  readonly url: string;
  readonly adminUrl: string;
  readonly clock: ManualClock;
  /** Every log line written so far. */
  readonly logs: string[];
  apply(spec: Record<string, unknown>): void;
  health(): Promise<HealthReport>;
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

export interface HealthReport {
  providers: Record<string, string>;
  overall_health: string;
  endpoints: Record<
    string,
    Record<string, { state: string; openRemainingMs: number; attempt: number }[]>
  >;
}

export function policyYaml(spec: Record<string, unknown>, name = 'test'): string {
  // YAML 1.1 output quotes keys such as `on` that Kubernetes (and aicb) read as booleans.
  return stringify(
    { apiVersion: 'aicircuit.io/v1alpha1', kind: 'AICircuitPolicy', metadata: { name }, spec },
    { version: '1.1' },
  );
}

export async function startSidecar(
  spec: Record<string, unknown>,
  options: {
    env?: Record<string, string>;
    maxBodyBytes?: number;
    maxBufferedBodyBytes?: number;
    bodyTimeoutMs?: number;
    headersTimeoutMs?: number;
    requestTimeoutMs?: number;
    logLevel?: string;
    /** Breaker and timing on the real clock (for measured durations) instead of a ManualClock. */
    realClock?: boolean;
  } = {},
): Promise<RunningSidecar> {
  const manual = new ManualClock(1_000_000);
  const clock = options.realClock === true ? systemClock : manual;
  const logs: string[] = [];
  let secrets: () => readonly string[] = () => [];
  const logger = createLogger({
    level: options.logLevel ?? 'debug',
    destination: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logs.push(chunk.toString('utf8'));
        callback();
      },
    }),
    secrets: () => secrets(),
  });
  const sidecar = buildSidecar({
    logger,
    clock,
    env: options.env ?? {},
    collectProcessMetrics: false,
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(options.maxBufferedBodyBytes === undefined
      ? {}
      : { maxBufferedBodyBytes: options.maxBufferedBodyBytes }),
    ...(options.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: options.bodyTimeoutMs }),
    ...(options.headersTimeoutMs === undefined
      ? {}
      : { headersTimeoutMs: options.headersTimeoutMs }),
    ...(options.requestTimeoutMs === undefined
      ? {}
      : { requestTimeoutMs: options.requestTimeoutMs }),
  });
  secrets = () => sidecar.runtime.secrets();
  const apply = (s: Record<string, unknown>) => {
    const compiled = compilePolicyText(policyYaml(s));
    if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
    const result = sidecar.applySnapshot(compiled.snapshot);
    if (!result.applied) throw new Error(result.problems.join('; '));
  };
  apply(spec);
  const url = await sidecar.proxy.listen({ host: '127.0.0.1', port: 0 });
  const adminUrl = await sidecar.admin.listen({ host: '127.0.0.1', port: 0 });
  return {
    sidecar,
    url,
    adminUrl,
    clock: manual,
    logs,
    apply,
    async health() {
      const res = await fetch(`${adminUrl}/health/circuit-breakers`);
      return (await res.json()) as HealthReport;
    },
    async metricsText() {
      return (await fetch(`${adminUrl}/metrics`)).text();
    },
    close: () => sidecar.close(),
  };
}
