/**
 * Incremental server-sent-events parser (the WHATWG event-stream format): bytes in, complete
 * events out, whatever the chunk boundaries. Events and lines may be split anywhere, even inside
 * a UTF-8 character or between the CR and LF of a line ending; lines end in LF, CRLF or CR;
 * comment lines (`:` keep-alives) are ignored; several `data:` lines join with LF.
 *
 * One deliberate leniency: `finish()` dispatches an event the stream ended without its blank
 * line, so a server that omits the last one does not lose its terminator (`[DONE]`,
 * `message_stop`). A truncated event then yields unparsable data, which the translators report.
 */

/** One dispatched event: its `event:` name when it had one, and its data. */
export interface SseEvent {
  readonly event?: string;
  readonly data: string;
}

/** Parses an event stream chunk by chunk without buffering more than the unfinished line. */
export class SseParser {
  readonly #decoder = new TextDecoder('utf-8');
  /** Text received after the last complete line. */
  #pending = '';
  #started = false;
  #eventName: string | undefined;
  #data: string[] = [];
  #hasData = false;

  /** Feeds a chunk; returns the events it completed (often none). */
  push(chunk: Buffer | string): SseEvent[] {
    const text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    const events: SseEvent[] = [];
    this.#consume(text, false, events);
    return events;
  }

  /** Ends the stream: completes the last line and dispatches an event left open. */
  finish(): SseEvent[] {
    const events: SseEvent[] = [];
    this.#consume(this.#decoder.decode(), true, events);
    if (this.#pending !== '') {
      this.#line(this.#pending, events);
      this.#pending = '';
    }
    this.#dispatch(events);
    return events;
  }

  #consume(text: string, final: boolean, events: SseEvent[]): void {
    let buffer = this.#pending + text;
    if (!this.#started && buffer !== '') {
      this.#started = true;
      // A byte order mark may open the stream (TextDecoder strips it from bytes, not strings).
      if (buffer.startsWith('\uFEFF')) buffer = buffer.slice(1);
    }
    let start = 0;
    let lf = buffer.indexOf('\n');
    let cr = buffer.indexOf('\r');
    while (lf !== -1 || cr !== -1) {
      let end: number;
      let next: number;
      if (cr !== -1 && (lf === -1 || cr < lf)) {
        // A CR as the last character may be the first half of a CRLF split across chunks.
        if (cr === buffer.length - 1 && !final) break;
        end = cr;
        next = buffer.charCodeAt(cr + 1) === 0x0a ? cr + 2 : cr + 1;
      } else {
        end = lf;
        next = lf + 1;
      }
      this.#line(buffer.slice(start, end), events);
      start = next;
      if (lf !== -1 && lf < start) lf = buffer.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = buffer.indexOf('\r', start);
    }
    this.#pending = buffer.slice(start);
  }

  #line(line: string, events: SseEvent[]): void {
    if (line === '') {
      this.#dispatch(events);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.#data.push(value);
      this.#hasData = true;
    } else if (field === 'event') {
      this.#eventName = value;
    }
    // `id` and `retry` steer reconnection, which a proxy never does; other fields are ignored.
  }

  #dispatch(events: SseEvent[]): void {
    // An event without data lines is not dispatched (the spec's rule; `event:` alone is nothing).
    if (this.#hasData) {
      const data = this.#data.join('\n');
      events.push(
        this.#eventName === undefined || this.#eventName === ''
          ? { data }
          : { event: this.#eventName, data },
      );
    }
    this.#eventName = undefined;
    this.#data = [];
    this.#hasData = false;
  }
}
