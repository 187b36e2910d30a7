/**
 * One call to one upstream, from dispatch to the last byte. The call either fails before
 * anything reached the app (the chain may then try the next target), or commits: the response
 * head and body go to the app as they arrive, and from then on the sidecar never switches
 * targets and never presents a cut stream as complete (docs/sidecar.md).
 *
 * Event streams are read with the one SSE reader and the target's stream grammar, event by
 * event: the upstream's bytes are forwarded whole events at a time (or translated), held back
 * until the first content event (so an error event first is still a failure the chain can
 * fall back from), and the stream is over at its API's terminator event — which ends the app's
 * response at once, whatever the upstream does afterwards.
 *
 * Built on undici's dispatch handler API: chunks go from the upstream socket to the app's
 * socket with backpressure and no Readable per call. Every callback is guarded: an exception
 * in the sidecar's own code is its own fault (500 AICB_INTERNAL or a cut response), never
 * charged to the upstream's circuit.
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
import { streamErrorEvent } from '../client-errors.ts';
import { BodyTail, type Usage } from '../cost/usage.ts';
import type { EventTranslator } from '../providers/cross-format.ts';
import { StreamGrammar, type EventKind } from '../providers/stream-grammar.ts';
import { parseRetryAfterMs } from '../retry-after.ts';
import { SseFramer, type EventDisposition } from '../sse/sse-framer.ts';
import { SseEventTooLargeError, type SseBoundary } from '../sse/sse-reader.ts';
import { bodyDecoder, decodable, type BodyDecoder, type BodySink } from './content-decoding.ts';
import type { Exchange } from './exchange.ts';

/** An upstream answer the chain did not pass on (kept to return if no target does better). */
export interface HeldResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export type AttemptResult =
  /** The response is flowing to the app (onFinished tells how it ended). */
  | { readonly kind: 'committed' }
  /** Nothing reached the app. `outcome` is what the breaker records; `held` the upstream answer, if any. */
  | {
      readonly kind: 'failed';
      readonly outcome: AttemptOutcome;
      readonly held: HeldResponse | undefined;
      /**
       * The target answered in a content-encoding the sidecar cannot decode while it carries a
       * key the sidecar injected: the answer cannot be masked, so it is not relayed.
       */
      readonly undecodable?: true;
    }
  /** The app went away before anything was sent. */
  | { readonly kind: 'cancelled' }
  /**
   * A non-streaming answer to translate is larger than the sidecar holds (its own limit, never
   * the upstream's fault: recorded as ignored); nothing was sent.
   */
  | { readonly kind: 'too_large'; readonly limitBytes: number }
  /** The sidecar's own code failed before anything was sent (never the upstream's fault). */
  | { readonly kind: 'internal'; readonly error: unknown };

export interface AttemptTimings {
  /** Dispatch to response head (the slow-call measure, also for streams). */
  readonly ttfbMs: number | undefined;
  readonly durationMs: number;
}

/** How a call ended, for the breaker, the metrics and cost. */
export interface AttemptEnd {
  readonly outcome: AttemptOutcome;
  readonly timings: AttemptTimings;
  /** Something reached the app. */
  readonly committed: boolean;
  /** A committed answer that did not arrive whole (cut, stalled or failed mid-stream). */
  readonly interrupted: boolean;
  /** The sidecar's own code failed (the outcome is then `ignored`). */
  readonly internalError: unknown;
  readonly usage: Usage | undefined;
}

export interface AttemptOptions {
  readonly dispatcher: Dispatcher;
  readonly exchange: Exchange;
  readonly firstByteTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly failOn: FailOn;
  readonly res: ServerResponse;
  readonly clock: Clock;
  /**
   * Receives a complete successful non-streaming answer as the app got it (for the last-resort
   * cache); only called when given, and only for bodies up to MAX_CAPTURE_BYTES.
   */
  readonly capture: ((status: number, contentType: string, body: Buffer) => void) | undefined;
  /** Writes the response head to the app (adds the x-aicb-* headers). Called at most once. */
  readonly commit: (status: number, headers: Record<string, string | string[] | undefined>) => void;
  /** The upstream has shown it is healthy: the first content reached the app. */
  readonly onFirstContent: (ttfbMs: number) => void;
  /** Called exactly once, when the call is over in every case. */
  readonly onFinished: (end: AttemptEnd) => void;
}

/** Largest upstream error body kept for possible return to the app. */
const MAX_HELD_BODY_BYTES = 64 * 1024;
/**
 * Largest answer buffered for translation (non-streaming answers must be whole to convert);
 * docs/translation.md. Exported for tests.
 */
export const MAX_TRANSLATED_BODY_BYTES = 32 * 1024 * 1024;
/** Largest answer copied for the cache. */
const MAX_CAPTURE_BYTES = 4 * 1024 * 1024;
/** Events before content are tiny; a provider sending this much without content is not SSE. */
const MAX_PRE_CONTENT_BYTES = 256 * 1024;
/** After its terminator an upstream gets this long to close its response before it is cut. */
const DRAIN_AFTER_END_MS = 1000;

const STREAM_ERROR: AttemptOutcome = Object.freeze({
  kind: 'failure',
  reason: 'stream_error',
  soft: false,
  retryAfterMs: undefined,
});

/** Raised by our own timer; told apart from undici's errors by class. */
class TotalTimeoutError extends Error {}

/** Runs the attempt; resolves once it has committed, failed or been cancelled. */
export function runAttempt(options: AttemptOptions): Promise<AttemptResult> {
  return new Promise<AttemptResult>((resolve) => {
    new Attempt(options, resolve).start();
  });
}

type Phase =
  | 'waiting'
  | 'holding-error'
  | 'buffering'
  | 'passing'
  | 'pre-content'
  | 'streaming'
  | 'draining'
  | 'done';

class Attempt {
  readonly #o: AttemptOptions;
  readonly #x: Exchange;
  readonly #resolve: (result: AttemptResult) => void;
  readonly #startedMs: number;
  #phase: Phase = 'waiting';
  #controller: Dispatcher.DispatchController | undefined;
  #ttfbMs: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #status = 0;
  #headers: Record<string, string | string[] | undefined> = {};
  #decoder: BodyDecoder | undefined;
  /** Output held before commit (error bodies, pre-content events, answers to convert). */
  #held: (Buffer | string)[] = [];
  /**
   * A committed stream's output for the upstream chunk being read: written to the app in one
   * write once the chunk is read (a write per event cost a chunked-encoding frame and a
   * socket write request each).
   */
  #pending: (Buffer | string)[] = [];
  #heldBytes = 0;
  #failure: AttemptOutcome = IGNORED;
  #grammar: StreamGrammar | undefined;
  #framer: SseFramer | undefined;
  #translator: EventTranslator | undefined;
  #tail: BodyTail | undefined;
  #captured: Buffer[] | undefined;
  #capturedBytes = 0;
  #committed = false;
  #interrupted = false;
  #internalError: unknown;
  #clientGone = false;
  #abortedByUs = false;
  #resolved = false;

  constructor(options: AttemptOptions, resolve: (result: AttemptResult) => void) {
    this.#o = options;
    this.#x = options.exchange;
    this.#resolve = resolve;
    this.#startedMs = options.clock.nowMs();
  }

  start(): void {
    const o = this.#o;
    const x = this.#x;
    o.res.once('close', this.#onClientClose);
    this.#timer = setTimeout(this.#onTotalTimeout, o.totalTimeoutMs);
    o.dispatcher.dispatch(
      {
        path: x.path,
        method: x.method,
        headers: x.headers,
        body: x.body,
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
          this.#guard(() => {
            this.#onResponseStart(controller, status, headers);
          });
        },
        onResponseData: (_controller, chunk) => {
          this.#guard(() => this.#decoder?.push(chunk));
        },
        onResponseEnd: () => {
          this.#guard(() => this.#decoder?.end());
        },
        onResponseError: (_controller, error) => {
          this.#guard(() => {
            this.#onError(error);
          });
        },
      },
    );
  }

  /** Runs sidecar code on an upstream event; an exception there is the sidecar's own fault. */
  #guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.#ownFault(error);
    }
  }

  #ownFault(error: unknown): void {
    if (this.#phase === 'done') return;
    this.#internalError = error;
    if (this.#controller !== undefined) this.#abortUpstream(this.#controller);
    if (this.#committed) {
      // Part of an answer went out: cut the connection so it cannot be mistaken for whole.
      this.#interrupted = true;
      this.#o.res.destroy();
    }
    this.#finish(IGNORED);
    this.#settle({ kind: 'internal', error });
  }

  #onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (status < 200 || this.#phase !== 'waiting') return; // 1xx informational
    const o = this.#o;
    this.#ttfbMs = o.clock.nowMs() - this.#startedMs;
    this.#status = status;
    this.#headers = headers;
    if (this.#clientGone) return;
    const encoding = headerText(headers['content-encoding']);
    const outcome = classifyStatus(
      status,
      o.failOn,
      parseRetryAfterMs(headers['retry-after'], o.clock.wallMs()),
    );
    const encoded = encoding !== undefined && encoding !== 'identity';
    if (encoded && this.#x.redactor !== undefined && !decodable(encoding)) {
      // The policy's key may be in bytes the sidecar cannot read: nothing of them is relayed.
      // The status still counts as the upstream's own word; a success is not held against it.
      const recorded = outcome.kind === 'failure' ? outcome : IGNORED;
      this.#finish(recorded);
      this.#settle({ kind: 'failed', outcome: recorded, held: undefined, undecodable: true });
      this.#abortUpstream(controller);
      return;
    }
    if (outcome.kind === 'failure') {
      this.#failure = outcome;
      this.#phase = 'holding-error';
      this.#decode(encoding);
      return;
    }
    const contentType = headerText(headers['content-type']);
    if (status === 200 && contentType?.startsWith('text/event-stream') === true) {
      this.#grammar = new StreamGrammar(this.#x.upstreamApi, {
        stripUsageChunk: this.#x.stripUsageChunk,
      });
      this.#framer = new SseFramer(this.#onEvent, (lf) => {
        this.#emit(lf);
      });
      this.#translator = this.#x.conversion?.events();
      this.#phase = 'pre-content';
      this.#decode(encoding);
      return;
    }
    if (this.#x.stream && status < 300) {
      // The app asked for a stream: an answer of another kind gives its SDK no events, so it
      // is this target's failure (nothing reached the app; the chain may fall back).
      this.#abandon(STREAM_ERROR, undefined);
      return;
    }
    if (this.#x.conversion !== undefined) {
      // Another API's JSON can only be converted whole.
      this.#phase = 'buffering';
      this.#decode(encoding);
      return;
    }
    // Passed through as it came, encoding and all: the app's client decodes what it asked for.
    // Except from a target that got the policy's key: its answer is decoded so the key can be
    // masked in it (an encoding the sidecar cannot decode was refused above).
    this.#phase = 'passing';
    const decoded = encoded && this.#x.redactor !== undefined;
    if (!encoded || decoded) this.#tail = new BodyTail();
    if (o.capture !== undefined && status === 200 && (encoding === undefined || decoded))
      this.#captured = [];
    const passed: Record<string, string | string[] | undefined> = { ...headers };
    if (decoded) {
      delete passed['content-encoding'];
      delete passed['content-length'];
    }
    if (this.#x.redactor !== undefined) redactHeaders(passed, this.#x);
    this.#commitHead(passed);
    const data = (chunk: Buffer): void => {
      this.#onPassing(controller, chunk);
    };
    const end = (): void => {
      this.#onPassingEnd();
    };
    this.#decoder = decoded
      ? bodyDecoder(encoding, this.#guarded({ data, end, error: this.#onDecodeError }))
      : { push: data, end };
    this.#o.onFirstContent(this.#ttfbMs);
  }

  /** Sets up reading the body through a decoder for the phase just entered. */
  #decode(encoding: string | undefined): void {
    if (encoding !== undefined && encoding !== 'identity' && decodable(encoding)) {
      // Decoded here: the app gets plain bytes, so the encoding headers go. An encoding the
      // sidecar cannot decode keeps its header, so the app is never told raw bytes are plain.
      this.#headers = { ...this.#headers };
      delete this.#headers['content-encoding'];
      delete this.#headers['content-length'];
    }
    this.#decoder = bodyDecoder(
      encoding === 'identity' ? undefined : encoding,
      this.#guarded({
        data: (chunk) => {
          this.#onBody(chunk);
        },
        end: () => {
          this.#onBodyEnd();
        },
        error: this.#onDecodeError,
      }),
    );
  }

  readonly #onDecodeError = (): void => {
    this.#onError(Object.assign(new Error('undecodable body'), { code: 'ERR_BODY_DECODE' }));
  };

  /** A decoder's sink whose steps run guarded (the decoder calls them from zlib's events). */
  #guarded(sink: BodySink): BodySink {
    return {
      data: (chunk) => {
        this.#guard(() => {
          sink.data(chunk);
        });
      },
      end: () => {
        this.#guard(() => {
          sink.end();
        });
      },
      error: (error) => {
        this.#guard(() => {
          sink.error(error);
        });
      },
    };
  }

  #onBody(chunk: Buffer): void {
    switch (this.#phase) {
      case 'pre-content':
      case 'streaming':
        this.#onStreamChunk(chunk);
        return;
      case 'buffering':
        this.#heldBytes += chunk.length;
        if (this.#heldBytes > MAX_TRANSLATED_BODY_BYTES) {
          // The sidecar's own limit: the upstream answered, so its circuit is not charged.
          this.#finish(IGNORED);
          this.#settle({ kind: 'too_large', limitBytes: MAX_TRANSLATED_BODY_BYTES });
          if (this.#controller !== undefined) this.#abortUpstream(this.#controller);
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
      case 'waiting':
      case 'passing':
      case 'draining':
      case 'done':
        return;
    }
  }

  #onBodyEnd(): void {
    switch (this.#phase) {
      case 'holding-error':
        this.#failBeforeCommit(this.#failure, this.#heldResponse());
        return;
      case 'buffering': {
        const conversion = this.#x.conversion;
        const body = concat(this.#held);
        this.#held = [];
        const translated = conversion === undefined ? body : conversion.body(this.#status, body);
        if (translated === undefined) {
          // The answer cannot be expressed in the app's API: not the upstream's fault, so the
          // breaker ignores it, but nothing reached the app and the chain moves on.
          this.#failBeforeCommit(IGNORED, undefined);
          return;
        }
        const masked = this.#x.redactor?.mask(translated) ?? translated;
        this.#commitHead({
          ...this.#headers,
          'content-type': 'application/json',
          'content-length': String(masked.length),
        });
        this.#o.onFirstContent(this.#ttfbMs ?? 0);
        this.#o.res.end(masked);
        if (this.#status === 200 && masked.length <= MAX_CAPTURE_BYTES)
          this.#o.capture?.(this.#status, 'application/json', masked);
        this.#tail = new BodyTail();
        this.#tail.push(masked);
        this.#finish(classifyStatus(this.#status, this.#o.failOn, undefined));
        return;
      }
      case 'pre-content':
      case 'streaming':
        this.#framer?.finish();
        this.#flush();
        if (this.#phaseNow() === 'pre-content') {
          // The stream ended before any content: an empty answer is not a faithful one, and
          // what was held (comments, pings) is no answer to return either.
          this.#failBeforeCommit(STREAM_ERROR, undefined);
        } else if (this.#phaseNow() === 'streaming') {
          this.#interrupt('the upstream stream ended before its terminator', STREAM_ERROR);
        }
        return;
      case 'draining':
        this.#phase = 'done';
        this.#clearTimer();
        return;
      case 'waiting':
      case 'passing':
      case 'done':
        return;
    }
  }

  #onPassing(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#phase !== 'passing') return;
    this.#tail?.push(chunk);
    if (this.#captured !== undefined) {
      this.#capturedBytes += chunk.length;
      if (this.#capturedBytes > MAX_CAPTURE_BYTES) this.#captured = undefined;
      else this.#captured.push(chunk);
    }
    const redactor = this.#x.redactor;
    this.#write(controller, redactor === undefined ? chunk : redactor.push(chunk));
  }

  #onPassingEnd(): void {
    if (this.#phase !== 'passing') return;
    const rest = this.#x.redactor?.flush();
    this.#o.res.end(rest !== undefined && rest.length > 0 ? rest : undefined);
    if (this.#captured !== undefined && this.#status === 200) {
      const type = headerText(this.#headers['content-type']) ?? 'application/json';
      const body = concat(this.#captured);
      this.#o.capture?.(this.#status, type, this.#x.redactor?.mask(body) ?? body);
    }
    this.#finish(classifyStatus(this.#status, this.#o.failOn, undefined));
  }

  #onStreamChunk(chunk: Buffer): void {
    try {
      this.#framer?.push(chunk);
      this.#flush();
    } catch (error) {
      if (!(error instanceof SseEventTooLargeError)) throw error;
      if (this.#phase === 'pre-content') this.#failBeforeCommit(STREAM_ERROR, undefined);
      else this.#interrupt('the upstream sent an oversized event', STREAM_ERROR);
      if (this.#controller !== undefined) this.#abortUpstream(this.#controller);
    }
  }

  /** Output for the app: written once committed, held before. */
  #emit(out: Buffer | string): void {
    if (this.#phase === 'streaming') {
      this.#writeOut(out);
    } else if (this.#phase === 'pre-content') {
      this.#held.push(out);
      this.#heldBytes += out.length;
    }
  }

  /** One whole event of the upstream's stream. */
  readonly #onEvent = (b: SseBoundary, raw: Buffer): EventDisposition => {
    const grammar = this.#grammar ?? new StreamGrammar(this.#x.upstreamApi);
    let kind = grammar.event(b.name, b.data);
    if (this.#phase === 'pre-content' && (kind === 'content' || kind === 'end')) {
      // The event that would commit the stream: one the app's SDK cannot read (or an empty
      // answer) is this target's failure, while the chain can still fall back.
      const verdict = grammar.firstContent(kind, b.data ?? '');
      if (verdict === 'invalid') {
        this.#abandon(STREAM_ERROR, undefined);
        return 'stop';
      }
      kind = verdict;
    }
    const out = this.#render(kind, b, raw);
    if (this.#phase === 'pre-content') {
      this.#emit(out);
      if (kind === 'error') {
        this.#failure = STREAM_ERROR;
        this.#abandon(STREAM_ERROR, this.#heldResponse());
        return 'stop';
      }
      if (kind !== 'content' && kind !== 'end' && this.#heldBytes <= MAX_PRE_CONTENT_BYTES)
        return kind === 'drop' ? 'dropped' : 'forwarded';
      this.#commitStream();
      this.#o.onFirstContent(this.#ttfbMs ?? 0);
    } else if (this.#phase === 'streaming') {
      this.#emit(out);
    } else {
      return 'stop';
    }
    if (kind === 'end' || this.#translator?.finished === true) {
      if (this.#translator?.cutShort === true)
        this.#interrupt('the upstream stream ended without a finish reason', STREAM_ERROR);
      else this.#complete();
      return 'stop';
    }
    if (kind === 'error') {
      // The (converted) error event told the app; the answer did not arrive whole.
      this.#interrupted = true;
      this.#flush();
      this.#o.res.end();
      this.#finish(STREAM_ERROR);
      if (this.#controller !== undefined) this.#abortUpstream(this.#controller);
      return 'stop';
    }
    return kind === 'drop' ? 'dropped' : 'forwarded';
  };

  /**
   * What the app gets for one upstream event (unmasked: the injected key is masked in what is
   * written, see #flush, and in a held response).
   */
  #render(kind: EventKind, b: SseBoundary, raw: Buffer): Buffer | string {
    if (kind === 'drop') return '';
    const translator = this.#translator;
    if (translator !== undefined) {
      if (b.data === undefined) return '';
      return translator.push(b.name === '' ? { data: b.data } : { event: b.name, data: b.data });
    }
    return raw;
  }

  /** The terminator reached the app: the answer is whole, whatever the upstream does next. */
  #complete(): void {
    this.#flush();
    this.#o.res.end();
    this.#finish(classifyStatus(this.#status, this.#o.failOn, undefined));
    // Let the upstream close its response (keeping the connection), but not for long.
    this.#phase = 'draining';
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#phase !== 'draining') return;
      this.#phase = 'done';
      if (this.#controller !== undefined) this.#abortUpstream(this.#controller);
    }, DRAIN_AFTER_END_MS);
    this.#timer.unref();
  }

  /** A committed stream that cannot finish: tell the app in its own API, and record it. */
  #interrupt(message: string, outcome: AttemptOutcome): void {
    this.#interrupted = true;
    this.#flush();
    const res = this.#o.res;
    if (!res.writableEnded && !res.destroyed) {
      res.end(streamErrorEvent(this.#x.clientApi, 'AICB_STREAM_INTERRUPTED', message));
    }
    this.#finish(outcome);
  }

  #onError(error: Error): void {
    if (this.#phase === 'draining') {
      this.#phase = 'done';
      this.#clearTimer();
      return;
    }
    if (this.#phase === 'done') return;
    if (this.#clientGone) {
      this.#finish(IGNORED);
      return;
    }
    const outcome =
      error instanceof TotalTimeoutError
        ? classifyTransport('total_timeout', this.#o.failOn)
        : classifyTransport(transportProblemOf(error), this.#o.failOn);
    // A stream cut after content is a failure even when the policy ignores that kind of
    // problem before content: the app did not get its answer.
    const cut = outcome.kind === 'failure' ? outcome : STREAM_ERROR;
    if (this.#phase === 'streaming') {
      this.#interrupt(
        outcome.kind === 'failure' && outcome.reason.endsWith('timeout')
          ? `the upstream stream stalled (${outcome.reason})`
          : 'the upstream connection broke mid-stream',
        cut,
      );
      return;
    }
    if (this.#phase === 'passing') {
      // A plain body cut short: break the connection so the app cannot mistake it for whole.
      this.#interrupted = true;
      this.#o.res.destroy();
      this.#finish(cut);
      return;
    }
    // Nothing was sent (also while buffering an answer to convert): a failure the chain may
    // fall back from. An upstream error body that was being held is kept only if it arrived whole.
    this.#failBeforeCommit(this.#phase === 'holding-error' ? this.#failure : outcome, undefined);
  }

  readonly #onClientClose = (): void => {
    if (this.#o.res.writableFinished) return;
    this.#clientGone = true;
    if (this.#phase === 'done' || this.#phase === 'draining') return;
    if (this.#controller !== undefined) this.#abortUpstream(this.#controller);
    this.#settle({ kind: 'cancelled' });
  };

  readonly #onTotalTimeout = (): void => {
    this.#timer = undefined;
    if (this.#phase === 'done' || this.#phase === 'draining') return;
    if (this.#controller !== undefined)
      this.#controller.abort(new TotalTimeoutError('total timeout'));
    else this.#onError(new TotalTimeoutError('total timeout'));
  };

  #commitStream(): void {
    const headers = { ...this.#headers };
    delete headers['content-length'];
    if (this.#x.conversion !== undefined)
      headers['content-type'] = 'text/event-stream; charset=utf-8';
    if (this.#x.redactor !== undefined) redactHeaders(headers, this.#x);
    this.#commitHead(headers);
    this.#phase = 'streaming';
    const held = this.#held;
    this.#held = [];
    this.#heldBytes = 0;
    for (const out of held) this.#writeOut(out);
  }

  /** Sends the head to the app and tells the chain the attempt has committed. */
  #commitHead(headers: Record<string, string | string[] | undefined>): void {
    delete headers['transfer-encoding'];
    this.#o.commit(this.#status, headers);
    this.#committed = true;
    this.#settle({ kind: 'committed' });
  }

  /** Output for a committed stream: written by the next #flush. */
  #writeOut(out: Buffer | string): void {
    if (out.length > 0) this.#pending.push(out);
  }

  /** Writes the pending output to the app, the injected key masked. */
  #flush(): void {
    const pending = this.#pending;
    if (pending.length === 0) return;
    this.#pending = [];
    const redactor = this.#x.redactor;
    const controller = this.#controller;
    for (const piece of pending.length === 1 ? pending : joinOutput(pending)) {
      const out =
        redactor === undefined
          ? piece
          : typeof piece === 'string'
            ? redactor.maskText(piece)
            : redactor.mask(piece);
      // Writes in one tick leave in one socket write (node:http corks the socket until the next).
      if (controller === undefined) this.#o.res.write(out);
      else this.#write(controller, out);
    }
  }

  #write(controller: Dispatcher.DispatchController, chunk: Buffer | string): void {
    if (chunk.length === 0) return;
    const res = this.#o.res;
    if (res.destroyed) return;
    if (!res.write(chunk) && !controller.paused) {
      controller.pause();
      res.once('drain', () => {
        controller.resume();
      });
    }
  }

  #abortUpstream(controller: Dispatcher.DispatchController): void {
    if (this.#abortedByUs || controller.aborted) return;
    this.#abortedByUs = true;
    controller.abort(new Error('aborted by the sidecar'));
  }

  /** The upstream answer that was not passed on, in the app's API. */
  #heldResponse(): HeldResponse {
    const x = this.#x;
    const joined = concat(this.#held);
    let body = joined;
    let headers = this.#headers;
    if (x.conversion !== undefined && this.#framer === undefined) {
      body = x.conversion.body(this.#status, joined) ?? joined;
      headers = { ...headers, 'content-type': 'application/json' };
    } else if (x.conversion !== undefined) {
      headers = { ...headers, 'content-type': 'text/event-stream; charset=utf-8' };
    }
    if (x.redactor !== undefined) {
      body = x.redactor.mask(body);
      headers = { ...headers };
      redactHeaders(headers, x);
    }
    return { status: this.#status, headers, body };
  }

  /** Fails before commit and stops reading the upstream's answer. */
  #abandon(outcome: AttemptOutcome, held: HeldResponse | undefined): void {
    this.#failBeforeCommit(outcome, held);
    if (this.#controller !== undefined) this.#abortUpstream(this.#controller);
  }

  #failBeforeCommit(outcome: AttemptOutcome, held: HeldResponse | undefined): void {
    this.#finish(outcome);
    this.#settle({ kind: 'failed', outcome, held });
  }

  #settle(result: AttemptResult): void {
    if (this.#resolved) return;
    this.#resolved = true;
    this.#resolve(result);
  }

  /** Read through a method: the phase changes inside calls that TypeScript cannot follow. */
  #phaseNow(): Phase {
    return this.#phase;
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #finish(outcome: AttemptOutcome): void {
    if (this.#phase === 'done' || this.#phase === 'draining') return;
    this.#phase = 'done';
    this.#clearTimer();
    this.#o.res.removeListener('close', this.#onClientClose);
    // A stream's usage is read in the upstream's API; a body's from what the app received.
    const bodyApi = this.#x.conversion === undefined ? this.#x.upstreamApi : this.#x.clientApi;
    const usage =
      outcome.kind !== 'success'
        ? undefined
        : this.#grammar !== undefined
          ? this.#grammar.usage()
          : this.#tail?.usage(bodyApi === 'openai-chat' ? 'openai' : 'anthropic');
    this.#o.onFinished({
      outcome,
      timings: { ttfbMs: this.#ttfbMs, durationMs: this.#o.clock.nowMs() - this.#startedMs },
      committed: this.#committed,
      interrupted: this.#interrupted,
      internalError: this.#internalError,
      usage,
    });
  }
}

function headerText(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined ? undefined : text.trim().toLowerCase() || undefined;
}

function redactHeaders(headers: Record<string, string | string[] | undefined>, x: Exchange): void {
  const redactor = x.redactor;
  if (redactor === undefined) return;
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === 'string') headers[name] = redactor.maskText(value);
    else if (Array.isArray(value)) headers[name] = value.map((v) => redactor.maskText(v));
  }
}

/**
 * Output pieces joined into as few as possible without copying bytes: consecutive strings
 * (translated events) into one string, buffers that are adjacent views of one chunk
 * (consecutive forwarded events) into one view. Every piece holds whole events.
 */
export function joinOutput(parts: readonly (Buffer | string)[]): (Buffer | string)[] {
  const out: (Buffer | string)[] = [];
  let texts: string[] = [];
  let run: Buffer | undefined;
  let runEnd = 0;
  const endRun = () => {
    if (run === undefined) return;
    out.push(runEnd === run.length ? run : Buffer.from(run.buffer, run.byteOffset, runEnd));
    run = undefined;
  };
  for (const part of parts) {
    if (typeof part === 'string') {
      endRun();
      texts.push(part);
      continue;
    }
    if (texts.length > 0) {
      out.push(texts.join(''));
      texts = [];
    }
    if (run?.buffer === part.buffer && run.byteOffset + runEnd === part.byteOffset) {
      runEnd += part.length;
    } else {
      endRun();
      run = part;
      runEnd = part.length;
    }
  }
  endRun();
  if (texts.length > 0) out.push(texts.join(''));
  return out;
}

function concat(parts: readonly (Buffer | string)[]): Buffer {
  if (parts.length === 1 && Buffer.isBuffer(parts[0])) return parts[0];
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
}
