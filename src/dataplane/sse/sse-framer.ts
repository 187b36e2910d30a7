/**
 * Cuts an upstream event stream into whole events with their own bytes, for callers that pass
 * the bytes on (or drop them) an event at a time: a chunk's complete events are views of it, and
 * only an event split across chunks is copied once. Built on the one SSE reader.
 */
import { SseReader, type SseBoundary } from './sse-reader.ts';

/** What the caller did with an event: passed its bytes on, dropped them, or is done reading. */
export type EventDisposition = 'forwarded' | 'dropped' | 'stop';

export type FramedEventListener = (event: SseBoundary, raw: Buffer) => EventDisposition;

const LF = 0x0a;
const CR = 0x0d;
const LF_BYTE = Buffer.from('\n');

export class SseFramer {
  readonly #reader = new SseReader();
  readonly #listener: FramedEventListener;
  /** Receives the LF of a CRLF blank line split from its CR, when its event was forwarded. */
  readonly #strayLf: (lf: Buffer) => void;
  #carry: Buffer[] = [];
  #chunk: Buffer = Buffer.alloc(0);
  #from = 0;
  #endedInCr = false;
  #lastForwarded = false;
  #stopped = false;

  constructor(listener: FramedEventListener, strayLf: (lf: Buffer) => void) {
    this.#listener = listener;
    this.#strayLf = strayLf;
  }

  /** Reads a chunk (views of it may be held until their event ends: do not modify it). */
  push(chunk: Buffer): void {
    if (this.#stopped || chunk.length === 0) return;
    this.#chunk = chunk;
    this.#from = 0;
    // A blank line ended in CR at the end of the last chunk: this LF completes its CRLF.
    if (this.#endedInCr && this.#carry.length === 0 && chunk[0] === LF) {
      this.#from = 1;
      if (this.#lastForwarded) this.#strayLf(LF_BYTE);
    }
    this.#endedInCr = chunk[chunk.length - 1] === CR;
    this.#reader.push(chunk, this.#onBoundary);
    if (!this.#isStopped() && this.#from < chunk.length)
      this.#carry.push(chunk.subarray(this.#from));
  }

  /** The stream ended: an event left without its blank line is delivered. */
  finish(): void {
    if (this.#stopped) return;
    this.#reader.finish((b) => {
      const raw = this.#takeCarry();
      this.#deliver(b, raw);
    });
    this.#carry = [];
  }

  readonly #onBoundary = (b: SseBoundary): boolean => {
    const piece = this.#chunk.subarray(this.#from, b.end);
    this.#from = b.end;
    const raw = this.#carry.length === 0 ? piece : Buffer.concat([...this.#carry, piece]);
    this.#carry = [];
    return this.#deliver(b, raw);
  };

  #deliver(b: SseBoundary, raw: Buffer): boolean {
    const disposition = this.#listener(b, raw);
    if (disposition === 'stop') {
      this.#stopped = true;
      return false;
    }
    this.#lastForwarded = disposition === 'forwarded';
    return true;
  }

  /** Read through a method: a listener may stop the framer during push. */
  #isStopped(): boolean {
    return this.#stopped;
  }

  #takeCarry(): Buffer {
    const carry = this.#carry;
    this.#carry = [];
    return Buffer.concat(carry);
  }
}
