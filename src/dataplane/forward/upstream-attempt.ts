/**
 * One call to one upstream, from dispatch to the last byte. The call either fails before
 * anything reached the app (the chain may then try the next target), or commits: the response
 * head and body go to the app as they arrive, and from then on the sidecar never switches
 * targets and never presents a cut stream as complete (DESIGN section 2, steps 4 and 5).
 *
 * Built on undici's dispatch handler API rather than `request()` streams: chunks go straight
 * from the upstream socket to the app's socket, with backpressure, and no Readable per call.
 */
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Clock } from '../../shared/clock.ts';
import {
  classifyStatus,
  classifyTransport,
  IGNORED,
  transportProblemOf,
  type AttemptOutcome,
  type FailOn,
} from '../classify-outcome.ts';
import { streamErrorEvent, type ClientFormat } from '../client-errors.ts';
import type { ResponseAdapter, StreamConverter } from './response-adapter.ts';
import type { UpstreamRequest } from '../providers/upstream-request.ts';
import { parseRetryAfterMs } from '../retry-after.ts';
import { SseInspector } from '../sse-inspector.ts';

/** An upstream answer the chain did not pass on (kept to return if no target does better). */
export interface HeldResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export type AttemptResult =
  /** The response is flowing to the app; `finished` settles when it is complete. */
  | { readonly kind: 'committed' }
  /** Nothing reached the app. `outcome` is what the breaker records; `held` the upstream answer, if any. */
  | {
      readonly kind: 'failed';
      readonly outcome: AttemptOutcome;
      readonly held: HeldResponse | undefined;
    }
  /** The app went away before anything was sent. */
  | { readonly kind: 'cancelled' };

export interface AttemptTimings {
  /** Dispatch to response head (the slow-call measure, also for streams). */
  readonly ttfbMs: number | undefined;
  readonly durationMs: number;
}

export interface AttemptOptions {
  readonly dispatcher: Dispatcher;
  readonly request: UpstreamRequest;
  readonly firstByteTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly failOn: FailOn;
  /** Format of the app's API, for error events written into a committed stream. */
  readonly clientFormat: ClientFormat;
  /** Format the upstream speaks (what the stream inspector reads). */
  readonly upstreamFormat: ClientFormat;
  /** Converts the upstream's answer when it speaks another API; undefined passes bytes through. */
  readonly adapter: ResponseAdapter | undefined;
  /**
   * Receives a complete successful non-streaming answer as the app got it (for the last-resort
   * cache); only called when given, and only for bodies up to MAX_CAPTURE_BYTES.
   */
  readonly capture: ((status: number, contentType: string, body: Buffer) => void) | undefined;
  /** Sees every chunk of a successful event stream as the upstream sent it (usage scanning). */
  readonly observeChunk: ((chunk: Buffer) => void) | undefined;
  readonly res: ServerResponse;
  readonly clock: Clock;
  /** Writes the response head to the app (adds the x-aicb-* headers). Called at most once. */
  readonly commit: (status: number, headers: Record<string, string | string[] | undefined>) => void;
  /** Called exactly once with the final outcome, when the call is over in every case. */
  readonly onFinished: (outcome: AttemptOutcome, timings: AttemptTimings) => void;
}

/** Largest upstream error body kept for possible return to the app. */
const MAX_HELD_BODY_BYTES = 64 * 1024;
/** Largest answer buffered for translation (non-streaming answers must be whole to convert). */
const MAX_TRANSLATED_BODY_BYTES = 32 * 1024 * 1024;
/** Largest answer copied for the cache. */
const MAX_CAPTURE_BYTES = 4 * 1024 * 1024;

/** Raised by our own timer; told apart from undici's errors by class. */
class TotalTimeoutError extends Error {}

/** Runs the attempt; resolves once it has committed, failed or been cancelled. */
export function runAttempt(options: AttemptOptions): Promise<AttemptResult> {
  return new Promise<AttemptResult>((resolve) => {
    new Attempt(options, resolve).start();
  });
}

type Phase = 'waiting' | 'holding-error' | 'buffering' | 'pre-content' | 'streaming' | 'done';

class Attempt {
  readonly #o: AttemptOptions;
  readonly #resolve: (result: AttemptResult) => void;
  readonly #startedMs: number;
  #phase: Phase = 'waiting';
  #controller: Dispatcher.DispatchController | undefined;
  #ttfbMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #status = 0;
  #headers: Record<string, string | string[] | undefined> = {};
  #held: Buffer[] = [];
  #heldBytes = 0;
  #failure: AttemptOutcome = IGNORED;
  #inspector: SseInspector | undefined;
  #converter: StreamConverter | undefined;
  #captured: Buffer[] | undefined;
  #capturedBytes = 0;
  #clientGone = false;
  #abortedByUs = false;
  #resolved = false;

  constructor(options: AttemptOptions, resolve: (result: AttemptResult) => void) {
    this.#o = options;
    this.#resolve = resolve;
    this.#startedMs = options.clock.nowMs();
  }

  start(): void {
    const o = this.#o;
    o.res.once('close', this.#onClientClose);
    this.#timer = setTimeout(this.#onTotalTimeout, o.totalTimeoutMs);
    o.dispatcher.dispatch(
      {
        path: o.request.path,
        method: o.request.method,
        headers: o.request.headers,
        body: o.request.body,
        headersTimeout: o.firstByteTimeoutMs,
        bodyTimeout: o.idleTimeoutMs,
      },
      {
        onRequestStart: (controller) => {
          this.#controller = controller;
          // The app left, or the total timeout fired, before the request was even sent.
          if (this.#clientGone || this.#phase === 'done')
            controller.abort(new Error('call abandoned'));
        },
        onResponseStart: (controller, status, headers) => {
          this.#onResponseStart(controller, status, headers);
        },
        onResponseData: (controller, chunk) => {
          this.#onData(controller, chunk);
        },
        onResponseEnd: () => {
          this.#onEnd();
        },
        onResponseError: (_controller, error) => {
          this.#onError(error);
        },
      },
    );
  }

  #onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (status < 200) return; // 1xx informational: wait for the real head
    const o = this.#o;
    this.#ttfbMs = o.clock.nowMs() - this.#startedMs;
    this.#status = status;
    this.#headers = headers;
    if (this.#clientGone) return;
    const outcome = classifyStatus(
      status,
      o.failOn,
      parseRetryAfterMs(headers['retry-after'], o.clock.wallMs()),
    );
    if (outcome.kind === 'failure') {
      this.#failure = outcome;
      this.#phase = 'holding-error';
      return;
    }
    const contentType = headers['content-type'];
    if (
      status === 200 &&
      typeof contentType === 'string' &&
      contentType.startsWith('text/event-stream')
    ) {
      this.#inspector = new SseInspector(o.upstreamFormat);
      this.#phase = 'pre-content';
      return;
    }
    if (o.adapter !== undefined) {
      // Another API's JSON can only be converted whole.
      this.#phase = 'buffering';
      return;
    }
    if (o.capture !== undefined && status === 200) this.#captured = [];
    this.#commitNow(controller);
  }

  #onData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    switch (this.#phase) {
      case 'streaming':
        this.#inspector?.scan(chunk);
        if (this.#inspector !== undefined) this.#o.observeChunk?.(chunk);
        this.#capture(chunk);
        this.#write(
          controller,
          this.#converter === undefined ? chunk : this.#converter.push(chunk),
        );
        return;
      case 'buffering':
        this.#heldBytes += chunk.length;
        if (this.#heldBytes > MAX_TRANSLATED_BODY_BYTES) {
          this.#failure = {
            kind: 'failure',
            reason: 'stream_error',
            soft: false,
            retryAfterMs: undefined,
          };
          this.#failBeforeCommit(this.#failure, undefined);
          this.#abortUpstream(controller);
          return;
        }
        this.#held.push(chunk);
        return;
      case 'holding-error':
        if (this.#heldBytes < MAX_HELD_BODY_BYTES) {
          this.#held.push(chunk);
          this.#heldBytes += chunk.length;
        }
        return;
      case 'pre-content': {
        this.#held.push(chunk);
        this.#o.observeChunk?.(chunk);
        const verdict = this.#inspector?.preContent(chunk);
        if (verdict === undefined || verdict.kind === 'pending') return;
        if (verdict.kind === 'error') {
          this.#failure = {
            kind: 'failure',
            reason: 'stream_error',
            soft: false,
            retryAfterMs: undefined,
          };
          // Settle first: aborting calls onResponseError synchronously, which must find us done.
          this.#failBeforeCommit(this.#failure, this.#heldResponse());
          this.#abortUpstream(controller);
          return;
        }
        this.#commitNow(controller);
        return;
      }
      case 'waiting':
      case 'done':
        return;
    }
  }

  #onEnd(): void {
    switch (this.#phase) {
      case 'holding-error':
        this.#failBeforeCommit(this.#failure, this.#heldResponse());
        return;
      case 'buffering': {
        const adapter = this.#o.adapter;
        const body = Buffer.concat(this.#held);
        this.#held = [];
        const translated = adapter === undefined ? body : adapter.body(this.#status, body);
        if (translated === undefined) {
          // The answer cannot be expressed in the app's API: not the upstream's fault, so the
          // breaker ignores it, but nothing reached the app and the chain moves on.
          this.#failBeforeCommit(IGNORED, undefined);
          return;
        }
        const headers = {
          ...this.#headers,
          'content-type': 'application/json',
          'content-length': String(translated.length),
        };
        this.#commitHead(headers);
        this.#o.res.end(translated);
        if (this.#status === 200) this.#o.capture?.(this.#status, 'application/json', translated);
        this.#finish(classifyStatus(this.#status, this.#o.failOn, undefined));
        return;
      }
      case 'pre-content':
        // The stream ended before any content: an empty answer is not a faithful one.
        this.#failBeforeCommit(
          { kind: 'failure', reason: 'stream_error', soft: false, retryAfterMs: undefined },
          this.#heldResponse(),
        );
        return;
      case 'streaming': {
        const inspector = this.#inspector;
        if (inspector !== undefined && (inspector.sawError || !inspector.sawEnd)) {
          if (!inspector.sawError) {
            this.#endStreamWithError('the upstream stream ended before its terminator');
          } else {
            // The (converted) error event already told the app; just close the stream.
            this.#o.res.end(this.#converter?.end() ?? '');
          }
          this.#finish({
            kind: 'failure',
            reason: 'stream_error',
            soft: false,
            retryAfterMs: undefined,
          });
          return;
        }
        this.#o.res.end(this.#converter?.end() ?? '');
        if (this.#captured !== undefined && this.#status === 200) {
          const type = this.#headers['content-type'];
          this.#o.capture?.(
            this.#status,
            typeof type === 'string' ? type : 'application/json',
            Buffer.concat(this.#captured),
          );
        }
        this.#finish(classifyStatus(this.#status, this.#o.failOn, undefined));
        return;
      }
      case 'waiting':
      case 'done':
        return;
    }
  }

  #onError(error: Error): void {
    if (this.#phase === 'done') return;
    if (this.#clientGone) {
      this.#finish(IGNORED);
      return;
    }
    const outcome =
      error instanceof TotalTimeoutError
        ? classifyTransport('total_timeout', this.#o.failOn)
        : classifyTransport(transportProblemOf(error), this.#o.failOn);
    if (this.#phase === 'streaming') {
      if (this.#inspector !== undefined) {
        this.#endStreamWithError(
          outcome.kind === 'failure' && outcome.reason.endsWith('timeout')
            ? `the upstream stream stalled (${outcome.reason})`
            : 'the upstream connection broke mid-stream',
        );
      } else {
        // A plain body cut short: break the connection so the app cannot mistake it for whole.
        this.#o.res.destroy();
      }
      // A stream cut after content is a failure even when the policy ignores that kind of
      // problem before content: the app did not get its answer.
      this.#finish(
        outcome.kind === 'failure'
          ? outcome
          : { kind: 'failure', reason: 'stream_error', soft: false, retryAfterMs: undefined },
      );
      return;
    }
    // Nothing was sent (also while buffering an answer to convert): a failure the chain may
    // fall back from. An upstream error body that was being held is kept only if it arrived whole.
    this.#failBeforeCommit(this.#phase === 'holding-error' ? this.#failure : outcome, undefined);
  }

  readonly #onClientClose = (): void => {
    if (this.#o.res.writableFinished) return;
    this.#clientGone = true;
    if (this.#phase === 'done') return;
    if (this.#controller !== undefined) this.#abortUpstream(this.#controller);
    if (!this.#resolved) {
      this.#resolved = true;
      this.#resolve({ kind: 'cancelled' });
    }
  };

  readonly #onTotalTimeout = (): void => {
    this.#timer = undefined;
    if (this.#phase === 'done') return;
    if (this.#controller !== undefined)
      this.#controller.abort(new TotalTimeoutError('total timeout'));
    else this.#onError(new TotalTimeoutError('total timeout'));
  };

  #commitNow(controller: Dispatcher.DispatchController): void {
    const headers = { ...this.#headers };
    if (this.#inspector !== undefined) {
      delete headers['content-length'];
      if (this.#o.adapter !== undefined) {
        headers['content-type'] = 'text/event-stream; charset=utf-8';
        this.#converter = this.#o.adapter.stream();
      }
    }
    this.#commitHead(headers);
    this.#phase = 'streaming';
    for (const chunk of this.#held) {
      this.#capture(chunk);
      this.#write(controller, this.#converter === undefined ? chunk : this.#converter.push(chunk));
    }
    this.#held = [];
  }

  /** Sends the head to the app and tells the chain the attempt has committed. */
  #commitHead(headers: Record<string, string | string[] | undefined>): void {
    // Upstream framing does not survive conversion: the sidecar frames the body itself.
    delete headers['content-encoding'];
    delete headers['transfer-encoding'];
    this.#o.commit(this.#status, headers);
    if (!this.#resolved) {
      this.#resolved = true;
      this.#resolve({ kind: 'committed' });
    }
  }

  #capture(chunk: Buffer): void {
    if (this.#captured === undefined) return;
    this.#capturedBytes += chunk.length;
    if (this.#capturedBytes > MAX_CAPTURE_BYTES) this.#captured = undefined;
    else this.#captured.push(chunk);
  }

  #write(controller: Dispatcher.DispatchController, chunk: Buffer | string): void {
    if (chunk.length === 0) return;
    const res = this.#o.res;
    if (!res.write(chunk) && !controller.paused) {
      controller.pause();
      res.once('drain', () => {
        controller.resume();
      });
    }
  }

  #endStreamWithError(message: string): void {
    const res = this.#o.res;
    if (res.writableEnded || res.destroyed) return;
    res.end(streamErrorEvent(this.#o.clientFormat, 'AICB_STREAM_INTERRUPTED', message));
  }

  #abortUpstream(controller: Dispatcher.DispatchController): void {
    if (this.#abortedByUs || controller.aborted) return;
    this.#abortedByUs = true;
    controller.abort(new Error('aborted by the sidecar'));
  }

  /** The upstream answer that was not passed on, converted to the app's format if needed. */
  #heldResponse(): HeldResponse {
    const raw = Buffer.concat(this.#held);
    const adapter = this.#o.adapter;
    if (adapter === undefined) return { status: this.#status, headers: this.#headers, body: raw };
    if (this.#inspector !== undefined) {
      const converter = adapter.stream();
      const body = Buffer.from(converter.push(raw) + converter.end());
      return {
        status: this.#status,
        headers: { ...this.#headers, 'content-type': 'text/event-stream; charset=utf-8' },
        body,
      };
    }
    return {
      status: this.#status,
      headers: { ...this.#headers, 'content-type': 'application/json' },
      body: adapter.body(this.#status, raw) ?? raw,
    };
  }

  #failBeforeCommit(outcome: AttemptOutcome, held: HeldResponse | undefined): void {
    this.#finish(outcome);
    if (!this.#resolved) {
      this.#resolved = true;
      this.#resolve({ kind: 'failed', outcome, held });
    }
  }

  #finish(outcome: AttemptOutcome): void {
    if (this.#phase === 'done') return;
    this.#phase = 'done';
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#o.res.removeListener('close', this.#onClientClose);
    this.#o.onFinished(outcome, {
      ttfbMs: this.#ttfbMs,
      durationMs: this.#o.clock.nowMs() - this.#startedMs,
    });
  }
}
