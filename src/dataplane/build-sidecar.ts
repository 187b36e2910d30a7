/**
 * Assembles the sidecar: the proxy app (port 15400), the admin app (port 15401: health,
 * readiness, metrics), the runtime they share, and `applySnapshot` for whatever delivers
 * policies (a file watcher in standalone mode, the controller stream in a cluster). Building
 * never listens, so tests can `inject()` or listen on port 0 themselves.
 */
import {
  PolicySnapshotSchema,
  SNAPSHOT_SCHEMA_VERSION,
  type PolicySnapshot,
} from '../snapshot/snapshot.ts';
import type { PolicyWarning } from '../snapshot/policy-warnings.ts';
import { formatFieldPath } from '../policy/field-path.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import type { Logger } from '../shared/create-logger.ts';
import { Emitter } from '../shared/emitter.ts';
import { CircuitAlerts } from './circuit-alerts.ts';
import { circuitHealth } from './circuit-health.ts';
import { createAdminServer } from './proxy/admin-server.ts';
import {
  createProxyServer,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  listener,
  type Listener,
} from './proxy/http-server.ts';
import { BodyBudget } from './request/body-budget.ts';
import { loadWarnings } from './load-warnings.ts';
import { observeCircuits } from './observe-circuits.ts';
import { SidecarMetrics } from './sidecar-metrics.ts';
import { SidecarRuntime } from './sidecar-runtime.ts';

export interface SidecarOptions {
  readonly logger: Logger;
  /** Environment of the sidecar, for `apiKey: {env}` credentials. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly clock?: Clock;
  /** Largest request body accepted (413 above). Default 32 MiB. */
  readonly maxBodyBytes?: number;
  /** Request bytes all requests may hold at once (503 AICB_OVERLOADED above). Default 64 MiB. */
  readonly maxBufferedBodyBytes?: number;
  /** Longest wait for the next bytes of a request body (408 above). Default 15 s. */
  readonly bodyTimeoutMs?: number;
  /** Request headers must arrive within this (408 AICB_REQUEST_TIMEOUT). Default 30 s. */
  readonly headersTimeoutMs?: number;
  /** The whole request must arrive within this (408 AICB_REQUEST_TIMEOUT). Default 300 s. */
  readonly requestTimeoutMs?: number;
  readonly collectProcessMetrics?: boolean;
  /**
   * Whether this sidecar sends alerts itself (standalone mode). In a cluster the controller
   * alerts once per policy transition instead. Default true.
   */
  readonly alerting?: boolean;
  /** Names this sidecar in alerts (pod name or host name). */
  readonly instanceId?: string;
}

export type ApplyResult =
  | {
      readonly applied: true;
      readonly changed: boolean;
      /** What in the applied policy will not work as written here (logged at warn). */
      readonly warnings: readonly PolicyWarning[];
    }
  | { readonly applied: false; readonly problems: readonly string[] };

/** A request that found every target of its chain open: nothing could answer it. */
export interface AllTargetsOpenEvent {
  readonly upstream: string;
  readonly endpoint: string;
  /** The chain as tried (`openai:open,anthropic:open`). */
  readonly attempts: string;
}

export interface Sidecar {
  readonly proxy: Listener;
  readonly admin: Listener;
  readonly runtime: SidecarRuntime;
  readonly metrics: SidecarMetrics;
  /**
   * Every-target-open moments of the request path. Standalone alerting handles them here; in a
   * cluster the controller client reports them so the controller alerts once for the fleet.
   */
  readonly allTargetsOpen: Emitter<AllTargetsOpenEvent>;
  /**
   * Applies a snapshot that is already valid by type: one the controller's message schema
   * checked, or one compiled here from a validated policy. It is not validated again.
   */
  applySnapshot(snapshot: PolicySnapshot): ApplyResult;
  /**
   * Validates input nothing has checked yet (the snapshot persisted on disk) and applies it. A
   * snapshot of another schema version or an invalid one is refused and the one in force stays.
   */
  validateAndApplySnapshot(candidate: unknown): ApplyResult;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_BUFFERED_BODY_BYTES = 64 * 1024 * 1024;
export const DEFAULT_BODY_TIMEOUT_MS = 15_000;
export { DEFAULT_HEADERS_TIMEOUT_MS, DEFAULT_REQUEST_TIMEOUT_MS };
const SWEEP_INTERVAL_MS = 60_000;

export function buildSidecar(options: SidecarOptions): Sidecar {
  const clock = options.clock ?? systemClock;
  const { logger } = options;
  const metrics = new SidecarMetrics({
    collectProcessMetrics: options.collectProcessMetrics ?? true,
  });
  const runtime = new SidecarRuntime({ clock, logger, env: options.env ?? {} });
  const stopObserving = observeCircuits(runtime.circuits, metrics, logger);
  const alerts =
    options.alerting === false
      ? undefined
      : new CircuitAlerts({ runtime, clock, logger, sourceId: options.instanceId ?? 'sidecar' });
  if (alerts !== undefined) metrics.alertStats = () => alerts.dispatcher.stats();
  // Idle closed breakers (e.g. of models no longer requested) are dropped, and due deadlines
  // applied so health output stays current without traffic.
  const sweeper = setInterval(() => runtime.circuits.registry.sweep(), SWEEP_INTERVAL_MS);
  sweeper.unref();
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  const allTargetsOpen = new Emitter<AllTargetsOpenEvent>((error: unknown) => {
    logger.error({ err: error }, 'all-targets-open listener failed');
  });
  const ctx = {
    runtime,
    metrics,
    logger,
    clock,
    body: {
      maxBytes: maxBodyBytes,
      timeoutMs: options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS,
      budget: new BodyBudget(options.maxBufferedBodyBytes ?? DEFAULT_MAX_BUFFERED_BODY_BYTES),
    },
    onAllTargetsOpen: (upstream: string, endpoint: string, attempts: string) => {
      alerts?.allTargetsOpen(upstream, endpoint, attempts);
      allTargetsOpen.emit({ upstream, endpoint, attempts });
    },
  };
  const proxy = listener(
    createProxyServer(ctx, logger, {
      headersMs: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
      requestMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    }),
  );

  const admin = listener(
    createAdminServer(
      {
        '/healthz': () => ({ status: 200, json: { status: 'ok' } }),
        '/readyz': () => {
          const snapshot = runtime.snapshot;
          if (snapshot === undefined) return { status: 503, json: { status: 'no policy yet' } };
          // A released sidecar is ready too: it serves, as a pass-through.
          return {
            status: 200,
            json: {
              status: snapshot.passThrough === undefined ? 'ready' : 'pass-through',
              policy: `${snapshot.policy.namespace}/${snapshot.policy.name}`,
              hash: snapshot.hash,
            },
          };
        },
        '/health/circuit-breakers': () => ({
          status: 200,
          json: circuitHealth(runtime.snapshot, runtime.circuits),
        }),
        '/metrics': async () => ({
          status: 200,
          text: await metrics.registry.metrics(),
          contentType: metrics.registry.contentType,
        }),
      },
      logger,
    ),
  );

  function validateAndApplySnapshot(candidate: unknown): ApplyResult {
    const version = (candidate as { schemaVersion?: unknown } | null)?.schemaVersion;
    if (version !== SNAPSHOT_SCHEMA_VERSION) {
      metrics.configReloads.inc({ result: 'rejected' });
      return {
        applied: false,
        problems: [
          `snapshot schemaVersion ${String(version)} is not supported (this sidecar runs ${SNAPSHOT_SCHEMA_VERSION})`,
        ],
      };
    }
    const parsed = PolicySnapshotSchema.safeParse(candidate);
    if (!parsed.success) {
      metrics.configReloads.inc({ result: 'rejected' });
      return {
        applied: false,
        problems: parsed.error.issues.map((i) => `${formatFieldPath(i.path)}: ${i.message}`),
      };
    }
    return applySnapshot(parsed.data);
  }

  function applySnapshot(snapshot: PolicySnapshot): ApplyResult {
    const previous = runtime.snapshot;
    if (previous?.hash === snapshot.hash) {
      metrics.configReloads.inc({ result: 'unchanged' });
      return { applied: true, changed: false, warnings: [] };
    }
    runtime.apply(snapshot);
    alerts?.configure(snapshot);
    // Every load says what will not work as written: a silent start-up with a missing key was
    // a fallback that never happened.
    const warnings = loadWarnings(snapshot, {
      resolve: runtime.resolve,
      nowWallMs: clock.wallMs(),
      alerting: alerts !== undefined,
    });
    for (const w of warnings) {
      logger.warn(
        { policy: `${snapshot.policy.namespace}/${snapshot.policy.name}`, field: w.path },
        `policy warning: ${w.path}: ${w.message}`,
      );
    }
    metrics.configReloads.inc({ result: 'applied' });
    metrics.configInfo.reset();
    metrics.configInfo.set(
      {
        policy: `${snapshot.policy.namespace}/${snapshot.policy.name}`,
        hash: snapshot.hash.slice(0, 12),
      },
      1,
    );
    return { applied: true, changed: true, warnings };
  }

  return {
    proxy,
    admin,
    runtime,
    metrics,
    allTargetsOpen,
    applySnapshot,
    validateAndApplySnapshot,
    async close() {
      clearInterval(sweeper);
      stopObserving();
      await Promise.all([proxy.close(), admin.close()]);
      await alerts?.close();
      await runtime.close();
    },
  };
}
