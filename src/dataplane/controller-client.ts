/**
 * Cluster mode's config source: the sidecar holds a server-sent-events stream to the controller
 * and receives its pod's compiled snapshot whenever it changes, acknowledges or rejects each
 * version, reports its circuits, and applies shared-fleet openings. It reconnects with capped,
 * jittered backoff (trying each controller address in turn) and keeps the last good snapshot on
 * disk, so a restart while the controller is away still serves with the last policy.
 */

/**
 * Longest wait between two connection attempts. A sidecar must pick up changes made while the
 * controller was away within 3 s of the controller serving again (docs/controller.md), so the
 * ceiling stays at 2 s however long the outage, with full jitter below it so a fleet does not
 * reconnect in step. Cheap for the controller: a down Service refuses at once, a standby answers
 * 503 before any token review.
 */
export const RECONNECT_MAX_BACKOFF_MS = 2_000;
/** First ceiling; doubles per failure up to the maximum. */
export const RECONNECT_MIN_BACKOFF_MS = 500;

/**
 * The wait before the next attempt after `failures` failed ones in a row (reset by every
 * successful connect): full jitter below min·2^failures, capped.
 */
export function reconnectDelayMs(
  failures: number,
  random: () => number,
  minMs = RECONNECT_MIN_BACKOFF_MS,
  maxMs = RECONNECT_MAX_BACKOFF_MS,
): number {
  return fullJitterMs(backoffCeilingMs(failures + 1, minMs, maxMs), random);
}
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { passThroughSnapshot } from '../snapshot/pass-through-snapshot.ts';
import {
  FleetMessageSchema,
  PROTOCOL_PATHS,
  ReleaseMessageSchema,
  SCHEMA_VERSION_HEADER,
  SNAPSHOT_SCHEMA_VERSION,
  SnapshotMessageSchema,
  STREAM_EVENTS,
  type AllTargetsOpenReport,
  type Report,
  type TransitionReport,
} from '../snapshot/sidecar-protocol.ts';
import type { Clock } from '../shared/clock.ts';
import { backoffCeilingMs, fullJitterMs } from '../shared/backoff.ts';
import type { Logger } from '../shared/create-logger.ts';
import { isJsonObject, parseJsonObject } from '../shared/json-object.ts';
import { sleep, systemTimers, type CancelTimer, type Timers } from '../shared/timers.ts';
import type { Sidecar } from './build-sidecar.ts';
import { SseParser } from './sse/sse-reader.ts';

export interface ControllerClientOptions {
  /** Controller base URLs, tried in turn (a standby refuses streams until it leads). */
  readonly urls: readonly string[];
  /** Projected ServiceAccount token (audience aicircuit.io); re-read on every connect. */
  readonly tokenFile: string;
  /** PEM CA bundle that signed the controller's certificate, as a file or as text. */
  readonly caFile?: string;
  readonly ca?: string;
  /** Directory for the last good snapshot (an emptyDir survives container restarts). */
  readonly stateDir?: string;
  readonly sidecar: Sidecar;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Backoff bounds for reconnects. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A stream silent this long (no heartbeat) is presumed dead and reopened. */
  readonly silenceTimeoutMs?: number;
  /** How often circuits are reported even without transitions. */
  readonly reportIntervalMs?: number;
  readonly random?: () => number;
  /** Reconnect waits, the silence watchdog and batched reports. Default: Node's timers. */
  readonly timers?: Timers;
}

const SNAPSHOT_FILE = 'last-good-snapshot.json';
/** Most circuits with every-target-open requests held for one report (the schema's bound). */
const MAX_ALL_TARGETS_OPEN = 200;

export class ControllerClient {
  readonly #o: ControllerClientOptions;
  readonly #minBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #timers: Timers;
  /** Aborted by stop(): ends a reconnect wait at once. */
  readonly #stopping = new AbortController();
  #dispatcher: Dispatcher | undefined;
  #stopped = false;
  #attempt = 0;
  #urlIndex = 0;
  #abort: AbortController | undefined;
  #transitions: TransitionReport[] = [];
  /** Every-target-open requests since the last report, folded per `upstream/endpoint`. */
  readonly #allTargetsOpen = new Map<string, AllTargetsOpenReport>();
  #unsubscribeAllOpen: (() => void) | undefined;
  readonly #openings = new Map<string, number>();
  readonly #lastTransition = new Map<string, number>();
  #reportTimer: NodeJS.Timeout | undefined;
  #cancelReportSoon: CancelTimer | undefined;
  #unsubscribe: (() => void) | undefined;
  #running: Promise<void> | undefined;
  /** True while a stream is open (for readiness and tests). */
  connected = false;

  constructor(options: ControllerClientOptions) {
    if (options.urls.length === 0)
      throw new Error('ControllerClient needs at least one controller URL');
    this.#o = options;
    this.#minBackoffMs = options.minBackoffMs ?? RECONNECT_MIN_BACKOFF_MS;
    this.#maxBackoffMs = options.maxBackoffMs ?? RECONNECT_MAX_BACKOFF_MS;
    this.#timers = options.timers ?? systemTimers;
  }

  /** Loads the persisted snapshot (if any), then connects in the background. */
  async start(): Promise<void> {
    const caFile = this.#o.caFile;
    const ca = caFile === undefined ? this.#o.ca : await readFile(caFile, 'utf8');
    this.#dispatcher = new Agent({
      connect: { timeout: 5000, ...(ca === undefined ? {} : { ca }) },
      // The stream is long-lived; heartbeats, not the body timeout, tell a dead one.
      bodyTimeout: 0,
      headersTimeout: 10_000,
    });
    await this.#restorePersisted();
    const registry = this.#o.sidecar.runtime.circuits.registry;
    this.#unsubscribe = registry.events.on('stateChange', (e) => {
      // The counts as the transition left them: what tripped the circuit, for Events and alerts.
      const state = registry.peek(e.key)?.getState();
      this.#transitions.push({
        key: e.key,
        from: e.from,
        to: e.to,
        reason: e.reason,
        openForMs: e.openForMs ?? null,
        atWallMs: e.atWallMs,
        ...(state === undefined
          ? {}
          : {
              counts: {
                consecutiveFailures: state.consecutive,
                windowFailures: state.windowFailures,
                windowCalls: state.windowCalls,
              },
            }),
      });
      if (e.to === 'open' || e.to === 'forced_open')
        this.#openings.set(e.key, (this.#openings.get(e.key) ?? 0) + 1);
      this.#lastTransition.set(e.key, e.atWallMs);
      // Report transitions promptly (shared fleet and status depend on them), batched.
      this.#reportBatched();
    });
    // The controller alerts for the fleet; a burst of refused requests is one entry per circuit.
    this.#unsubscribeAllOpen = this.#o.sidecar.allTargetsOpen.subscribe((e) => {
      const id = `${e.upstream}/${e.endpoint}`;
      const before = this.#allTargetsOpen.get(id);
      if (before === undefined && this.#allTargetsOpen.size >= MAX_ALL_TARGETS_OPEN) return;
      this.#allTargetsOpen.set(id, {
        upstream: e.upstream,
        endpoint: e.endpoint,
        requests: (before?.requests ?? 0) + 1,
        atWallMs: this.#o.clock.wallMs(),
        attempts: e.attempts.slice(0, 600),
      });
      this.#reportBatched();
    });
    this.#reportTimer = setInterval(() => void this.#report(), this.#o.reportIntervalMs ?? 10_000);
    this.#reportTimer.unref();
    this.#running = this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    this.#abort?.abort();
    this.#unsubscribe?.();
    this.#unsubscribeAllOpen?.();
    if (this.#reportTimer !== undefined) clearInterval(this.#reportTimer);
    this.#cancelReportSoon?.();
    await this.#running?.catch(() => undefined);
    await this.#dispatcher?.close().catch(() => undefined);
  }

  /** Read through a method: the loop's awaits may change it (stop() runs meanwhile). */
  #isStopped(): boolean {
    return this.#stopped;
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const url = this.#o.urls[this.#urlIndex % this.#o.urls.length] ?? '';
      try {
        await this.#stream(url);
      } catch (error) {
        if (this.#isStopped()) return;
        // Retrying every second or two while the controller is away: say so on the first
        // failure and then about once a minute, not on every attempt.
        const fields = {
          controller: url,
          error: (error as Error).message,
          attempt: this.#attempt + 1,
        };
        const message = 'controller stream failed; serving with the last good policy and retrying';
        if (this.#attempt % 30 === 0) this.#o.logger.warn(fields, message);
        else this.#o.logger.debug(fields, message);
      }
      this.connected = false;
      this.#urlIndex++;
      this.#attempt++;
      const delay = reconnectDelayMs(
        this.#attempt,
        this.#o.random ?? Math.random,
        this.#minBackoffMs,
        this.#maxBackoffMs,
      );
      await sleep(this.#timers, delay, this.#stopping.signal);
    }
  }

  async #stream(url: string): Promise<void> {
    // Set before the first await: a stop() while the token is read must end this attempt too.
    const abort = new AbortController();
    this.#abort = abort;
    const token = (await readFile(this.#o.tokenFile, 'utf8')).trim();
    const res = await request(`${url}${PROTOCOL_PATHS.stream}`, {
      method: 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'text/event-stream',
        [SCHEMA_VERSION_HEADER]: String(SNAPSHOT_SCHEMA_VERSION),
      },
      signal: abort.signal,
      ...(this.#dispatcher === undefined ? {} : { dispatcher: this.#dispatcher }),
    });
    if (res.statusCode !== 200) {
      const text = (await res.body.text()).slice(0, 300);
      throw new Error(`controller answered ${res.statusCode}: ${text}`);
    }
    this.connected = true;
    this.#attempt = 0;
    this.#o.logger.info({ controller: url }, 'connected to the controller');
    const parser = new SseParser();
    const silence = this.#o.silenceTimeoutMs ?? 45_000;
    const onSilence = () => {
      abort.abort();
    };
    let cancelWatchdog = this.#timers.setTimeout(onSilence, silence);
    try {
      for await (const chunk of res.body) {
        cancelWatchdog();
        cancelWatchdog = this.#timers.setTimeout(onSilence, silence);
        for (const event of parser.push(chunk as Buffer))
          await this.#onEvent(url, token, event.event, event.data);
      }
    } finally {
      cancelWatchdog();
    }
    throw new Error('controller closed the stream');
  }

  async #onEvent(
    url: string,
    token: string,
    name: string | undefined,
    data: string,
  ): Promise<void> {
    if (name === STREAM_EVENTS.snapshot) {
      const message = parseJsonObject(data);
      const parsed = SnapshotMessageSchema.safeParse(message);
      if (!parsed.success) {
        const sent = message?.snapshot;
        const hash = isJsonObject(sent) ? sent.hash : undefined;
        await this.#post(url, token, PROTOCOL_PATHS.ack, {
          hash: typeof hash === 'string' ? hash : '',
          accepted: false,
          problems: parsed.error.issues
            .slice(0, 20)
            .map((i) => `${i.path.join('.')}: ${i.message}`),
        });
        return;
      }
      // Validated by the message schema just now: applied as it is, not validated again.
      const { snapshot } = parsed.data;
      const result = this.#o.sidecar.applySnapshot(snapshot);
      if (result.applied) {
        if (result.changed) {
          this.#o.logger.info(
            { policy: snapshot.policy.name, hash: snapshot.hash.slice(0, 12) },
            'policy received from the controller',
          );
          await this.#persist(snapshot);
        }
        await this.#post(url, token, PROTOCOL_PATHS.ack, {
          hash: snapshot.hash,
          accepted: true,
          problems: [],
        });
      } else {
        this.#o.logger.error(
          { problems: result.problems },
          'policy from the controller rejected; keeping the last good one',
        );
        await this.#post(url, token, PROTOCOL_PATHS.ack, {
          hash: snapshot.hash,
          accepted: false,
          problems: [...result.problems],
        });
      }
      await this.#report();
      return;
    }
    if (name === STREAM_EVENTS.release) {
      await this.#release(data);
      return;
    }
    if (name === STREAM_EVENTS.fleet) {
      const parsed = FleetMessageSchema.safeParse(parseJsonObject(data));
      if (!parsed.success) return;
      const { key, openForMs, origin, policyHash } = parsed.data;
      const runtime = this.#o.sidecar.runtime;
      if (runtime.snapshot?.hash !== policyHash) return;
      const breaker = runtime.circuits.breaker(key);
      // Only a closed circuit follows the fleet; one already open or probing keeps its own pace.
      if (breaker.getState().state === 'closed') {
        breaker.openFor(openForMs);
        this.#o.logger.warn(
          { key, origin, openForMs },
          'circuit opened by the fleet (shared mode)',
        );
      }
    }
  }

  /**
   * No policy governs this pod any more: keep serving, but as a transparent pass-through
   * (pass-through-snapshot.ts), persisted so a restart does not bring the old policy back, and
   * with the policy's resolved Secrets gone from memory and disk.
   */
  async #release(data: string): Promise<void> {
    const parsed = ReleaseMessageSchema.safeParse(parseJsonObject(data));
    if (!parsed.success) return;
    const current = this.#o.sidecar.runtime.snapshot;
    if (current === undefined) {
      this.#o.logger.info('no policy governs this pod; waiting for one');
      return;
    }
    if (current.passThrough !== undefined) return;
    const released = passThroughSnapshot(current, this.#o.clock.wallMs());
    const result = this.#o.sidecar.applySnapshot(released);
    if (!result.applied) {
      // A bug: the derived snapshot must be valid. Keep the policy rather than fail open silently.
      this.#o.logger.error({ problems: result.problems }, 'could not switch to pass-through');
      return;
    }
    const former = released.passThrough?.formerPolicy;
    this.#o.logger.warn(
      { formerPolicy: former === undefined ? undefined : `${former.namespace}/${former.name}` },
      'no policy governs this pod any more: passing requests through unchanged',
    );
    await this.#persist(released);
    await this.#report();
  }

  /** A report within 100 ms, one for everything that happens meanwhile. */
  #reportBatched(): void {
    this.#cancelReportSoon ??= this.#timers.setTimeout(() => {
      this.#cancelReportSoon = undefined;
      void this.#report();
    }, 100);
  }

  async #report(): Promise<void> {
    if (!this.connected || this.#stopped) return;
    const url = this.#o.urls[this.#urlIndex % this.#o.urls.length] ?? '';
    const transitions = this.#transitions.splice(0, 1000);
    const allTargetsOpen = [...this.#allTargetsOpen.values()];
    this.#allTargetsOpen.clear();
    const report: Report = {
      hash: this.#o.sidecar.runtime.snapshot?.hash ?? null,
      circuits: this.#o.sidecar.runtime.circuits
        .list()
        .slice(0, 2000)
        .map((c) => ({
          key: c.status.key,
          upstream: c.upstream,
          endpoint: c.endpoint,
          state: c.status.state,
          openings: this.#openings.get(c.status.key) ?? 0,
          lastTransitionWallMs: this.#lastTransition.get(c.status.key) ?? null,
        })),
      transitions,
      // Sent only when there is something: a controller older than the field refuses it.
      ...(allTargetsOpen.length === 0 ? {} : { allTargetsOpen }),
    };
    try {
      const token = (await readFile(this.#o.tokenFile, 'utf8')).trim();
      await this.#post(url, token, PROTOCOL_PATHS.report, report);
    } catch (error) {
      // Lost transitions only delay status; the next periodic report carries the states.
      this.#o.logger.debug({ error: (error as Error).message }, 'circuit report failed');
    }
  }

  async #post(url: string, token: string, path: string, body: unknown): Promise<void> {
    const res = await request(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      ...(this.#dispatcher === undefined ? {} : { dispatcher: this.#dispatcher }),
    });
    await res.body.dump();
    if (res.statusCode >= 300) throw new Error(`controller answered ${res.statusCode} to ${path}`);
  }

  async #persist(snapshot: unknown): Promise<void> {
    const dir = this.#o.stateDir;
    if (dir === undefined) return;
    try {
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `${SNAPSHOT_FILE}.tmp`);
      // The snapshot may hold delivered credentials: readable by the sidecar's user only.
      await writeFile(tmp, JSON.stringify(snapshot), { mode: 0o600 });
      await rename(tmp, join(dir, SNAPSHOT_FILE));
    } catch (error) {
      this.#o.logger.warn(
        { error: (error as Error).message },
        'could not persist the last good snapshot',
      );
    }
  }

  async #restorePersisted(): Promise<void> {
    const dir = this.#o.stateDir;
    if (dir === undefined) return;
    let text: string;
    try {
      text = await readFile(join(dir, SNAPSHOT_FILE), 'utf8');
    } catch {
      return;
    }
    // Read back from disk: anything may be there, so it is validated in full.
    const result = this.#o.sidecar.validateAndApplySnapshot(parseJsonObject(text));
    if (result.applied)
      this.#o.logger.info('serving the last good policy from disk until the controller answers');
    else
      this.#o.logger.warn(
        { problems: result.problems },
        'persisted snapshot unusable; waiting for the controller',
      );
  }
}
