/**
 * The one server-sent-events reader of the data plane (the WHATWG event-stream rules): bytes in,
 * event boundaries out, whatever the chunk boundaries. Lines end in LF, CRLF or CR (a CRLF may be
 * split across chunks); `data:` with or without its space; several `data:` lines join with LF;
 * `:` comment lines are skipped; `event:` names the event; a leading byte order mark is dropped.
 *
 * It works on bytes, not text, so that callers can pass the upstream's own bytes through
 * untouched: every blank line is reported with its offset in the current chunk, also when the
 * event carried no data (a keep-alive), and the caller forwards (or drops) whole events by
 * those offsets. Only the fields of an event are ever decoded, never the stream.
 */

/** One event boundary (a blank line) as the reader saw it. */
export interface SseBoundary {
  /** The `event:` name; '' when the event had none. */
  readonly name: string;
  /** The joined `data:` lines; undefined when the event had none (comments, keep-alives). */
  readonly data: string | undefined;
  /** Offset in the chunk just pushed right after the blank line that ended the event. */
  readonly end: number;
}

/** Return false to stop reading the rest of the chunk (the caller is done with the stream). */
export type SseListener = (boundary: SseBoundary) => unknown;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

/** An event's fields beyond this size are not a provider's event stream. */
export const MAX_SSE_EVENT_BYTES = 32 * 1024 * 1024;

export class SseEventTooLargeError extends Error {
  constructor() {
    super(`an event of the upstream stream exceeds ${MAX_SSE_EVENT_BYTES} bytes`);
  }
}

export class SseReader {
  /** Bytes of a line that began in an earlier chunk. */
  #partial: Buffer[] = [];
  #partialBytes = 0;
  /** The last chunk ended with CR: an LF opening the next one belongs to that line end. */
  #afterCr = false;
  #started = false;
  #name = '';
  #data: string | undefined;
  #eventBytes = 0;

  /** Reads one chunk, calling `listener` at each blank line in it. */
  push(chunk: Buffer, listener: SseListener): void {
    let i = 0;
    if (!this.#started && chunk.length > 0) {
      this.#started = true;
      if (chunk.length >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    }
    if (this.#afterCr && chunk.length > 0) {
      this.#afterCr = false;
      if (chunk[i] === LF) i++;
    }
    const length = chunk.length;
    let lf = chunk.indexOf(LF, i);
    let cr = chunk.indexOf(CR, i);
    while (lf !== -1 || cr !== -1) {
      let lineEnd: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        lineEnd = cr;
        if (cr + 1 === length) {
          this.#afterCr = true;
          next = length;
        } else {
          next = chunk[cr + 1] === LF ? cr + 2 : cr + 1;
        }
      } else {
        lineEnd = lf;
        next = lf + 1;
      }
      let line: Buffer;
      if (this.#partialBytes > 0) {
        this.#partial.push(chunk.subarray(i, lineEnd));
        line = Buffer.concat(this.#partial);
        this.#partial = [];
        this.#partialBytes = 0;
      } else {
        line = chunk.subarray(i, lineEnd);
      }
      i = next;
      if (line.length === 0) {
        const boundary: SseBoundary = { name: this.#name, data: this.#data, end: i };
        this.#name = '';
        this.#data = undefined;
        this.#eventBytes = 0;
        if (listener(boundary) === false) return;
      } else {
        this.#field(line);
      }
      if (lf !== -1 && lf < i) lf = chunk.indexOf(LF, i);
      if (cr !== -1 && cr < i) cr = chunk.indexOf(CR, i);
    }
    if (i < length) {
      this.#partial.push(chunk.subarray(i));
      this.#partialBytes += length - i;
      if (this.#partialBytes + this.#eventBytes > MAX_SSE_EVENT_BYTES)
        throw new SseEventTooLargeError();
    }
  }

  /**
   * The stream ended: an event left without its blank line is reported (end = 0, nothing of a
   * chunk), so a server that omits the last blank line does not lose its terminator. A cut
   * event then has unparsable data, which the stream grammar treats as no terminator.
   */
  finish(listener: SseListener): void {
    if (this.#partialBytes > 0) {
      const line = Buffer.concat(this.#partial);
      this.#partial = [];
      this.#partialBytes = 0;
      this.#field(line);
    }
    if (this.#data !== undefined || this.#name !== '') {
      const boundary: SseBoundary = { name: this.#name, data: this.#data, end: 0 };
      this.#name = '';
      this.#data = undefined;
      listener(boundary);
    }
  }

  /** True while an event has started but not ended (bytes after the last blank line). */
  get midEvent(): boolean {
    return this.#partialBytes > 0 || this.#data !== undefined || this.#name !== '';
  }

  #field(line: Buffer): void {
    if (line[0] === COLON) return; // a comment
    this.#eventBytes += line.length;
    if (this.#eventBytes > MAX_SSE_EVENT_BYTES) throw new SseEventTooLargeError();
    const colon = line.indexOf(COLON);
    const nameEnd = colon === -1 ? line.length : colon;
    let valueStart = colon === -1 ? line.length : colon + 1;
    if (line[valueStart] === SPACE) valueStart++;
    if (isField(line, nameEnd, DATA)) {
      const value = line.toString('utf8', valueStart);
      this.#data = this.#data === undefined ? value : `${this.#data}\n${value}`;
    } else if (isField(line, nameEnd, EVENT)) {
      this.#name = line.toString('utf8', valueStart);
    }
    // `id` and `retry` steer reconnection, which a proxy never does; other fields are ignored.
  }
}

const DATA = Buffer.from('data');
const EVENT = Buffer.from('event');

function isField(line: Buffer, nameEnd: number, field: Buffer): boolean {
  if (nameEnd !== field.length) return false;
  for (let k = 0; k < nameEnd; k++) if (line[k] !== field[k]) return false;
  return true;
}

/** One dispatched event: its `event:` name when it had one, and its data. */
export interface SseEvent {
  readonly event?: string;
  readonly data: string;
}

/**
 * Events as values, for callers that want them rather than the upstream's bytes (the
 * controller's policy stream, tests): the same reader, collecting the events that carry data.
 */
export class SseParser {
  readonly #reader = new SseReader();

  /** Feeds a chunk; returns the events it completed (often none). */
  push(chunk: Buffer | string): SseEvent[] {
    const events: SseEvent[] = [];
    this.#reader.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, (b) => {
      collect(b, events);
    });
    return events;
  }

  /** Ends the stream: dispatches an event left without its blank line. */
  finish(): SseEvent[] {
    const events: SseEvent[] = [];
    this.#reader.finish((b) => {
      collect(b, events);
    });
    return events;
  }
}

function collect(boundary: SseBoundary, events: SseEvent[]): void {
  if (boundary.data === undefined) return;
  events.push(
    boundary.name === '' ? { data: boundary.data } : { event: boundary.name, data: boundary.data },
  );
}
