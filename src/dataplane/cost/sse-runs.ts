/**
 * Byte-level helpers for watching usage in server-sent events without decoding the stream:
 * native searches find the `"usage"` key and event boundaries, and only the few events whose
 * usage is an object are ever parsed. Kept apart from usage.ts because the scanner and the
 * stripper frame the stream the same way.
 */

/** The JSON key every usage object of both APIs hangs from. */
export const USAGE_KEY = Buffer.from('"usage"');
const KEY_LENGTH = USAGE_KEY.length;

const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

// A blank line is two line terminators in a row; with LF, CRLF and CR allowed, every blank line
// contains one of these pairs (CRLF CRLF holds LF CR).
const LF_LF = Buffer.from('\n\n');
const LF_CR = Buffer.from('\n\r');
const CR_CR = Buffer.from('\r\r');

/** `usageValueStart`: `"usage"` there is not a JSON key (a string value, say). */
export const NOT_A_KEY = -1;
/** `usageValueStart`: a usage key whose value is not an object (OpenAI's `"usage":null`). */
export const NOT_AN_OBJECT = -2;
/**
 * `usageValueStart`: cannot tell yet: the bytes end before the value, or a `data:` line break
 * splits the event's JSON there. Treated as a possible object, which only costs a parse.
 */
export const UNDECIDED = -3;

/**
 * Where the object value of a `"usage"` key ending at `keyEnd` starts, or one of the negative
 * verdicts above. Inside JSON strings quotes are escaped, so `"usage"` followed by a colon is
 * always a key.
 */
export function usageValueStart(buf: Buffer, keyEnd: number): number {
  let i = skipSpace(buf, keyEnd);
  if (i === buf.length) return UNDECIDED;
  if (buf[i] !== COLON) return NOT_A_KEY;
  i = skipSpace(buf, i + 1);
  const b = buf[i];
  if (b === undefined) return UNDECIDED;
  if (b === OPEN_BRACE) return i;
  return isJsonValueStart(b) ? NOT_AN_OBJECT : UNDECIDED;
}

/** The first byte of a JSON value other than an object: null, true, false, string, array, number. */
function isJsonValueStart(b: number): boolean {
  return (
    b === 0x6e || // n
    b === 0x74 || // t
    b === 0x66 || // f
    b === QUOTE ||
    b === 0x5b || // [
    b === 0x2d || // -
    (b >= 0x30 && b <= 0x39)
  );
}

function skipSpace(buf: Buffer, from: number): number {
  let i = from;
  while (i < buf.length) {
    const b = buf[i];
    if (b !== SPACE && b !== TAB && b !== LF && b !== CR) break;
    i++;
  }
  return i;
}

/**
 * The position of the first `"usage"` key at or after `from` whose value is (or may yet be) an
 * object; -1 when there is none. `"usage":null`, which OpenAI puts on every chunk once usage
 * is requested, does not count.
 */
export function usageObjectKeyAt(buf: Buffer, from: number): number {
  for (let at = buf.indexOf(USAGE_KEY, from); at !== -1; at = buf.indexOf(USAGE_KEY, at + 1)) {
    const value = usageValueStart(buf, at + KEY_LENGTH);
    if (value >= 0 || value === UNDECIDED) return at;
  }
  return -1;
}

/**
 * The end (exclusive) of the JSON object starting at `start`, scanning at most `maxBytes`;
 * -1 when it does not close in time. String-aware, so braces inside strings do not count.
 */
export function objectEnd(buf: Buffer, start: number, maxBytes: number): number {
  const limit = Math.min(buf.length, start + maxBytes);
  let depth = 0;
  let inString = false;
  for (let i = start; i < limit; i++) {
    const b = buf[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) {
      inString = true;
    } else if (b === OPEN_BRACE) {
      depth++;
    } else if (b === CLOSE_BRACE) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** The end of a blank-line pair found at `at`, with the LF of a final CRLF when it is there. */
function pairEnd(buf: Buffer, at: number): number {
  const end = at + 2;
  return buf[end - 1] === CR && buf[end] === LF ? end + 1 : end;
}

/** The end of the last complete event in `buf` (just past its blank line); -1 when none. */
export function lastEventEnd(buf: Buffer): number {
  const lf = buf.lastIndexOf(LF_LF);
  let end = lf === -1 ? -1 : lf + 2;
  // Providers send LF; only a CR after the last LF LF can start a later blank line, and that
  // search usually covers no bytes at all (chunks tend to end with an event).
  if (buf.indexOf(CR, lf === -1 ? 0 : lf) !== -1) {
    const lfCr = buf.lastIndexOf(LF_CR);
    if (lfCr !== -1) end = Math.max(end, pairEnd(buf, lfCr));
    const crCr = buf.lastIndexOf(CR_CR);
    if (crCr !== -1) end = Math.max(end, pairEnd(buf, crCr));
  }
  return end;
}

/** The end of the first complete event at or after `from` (past its blank line); -1 when none. */
export function nextEventEnd(buf: Buffer, from: number): number {
  let at = buf.indexOf(LF_LF, from);
  const lfCr = buf.indexOf(LF_CR, from);
  if (lfCr !== -1 && (at === -1 || lfCr < at)) at = lfCr;
  const crCr = buf.indexOf(CR_CR, from);
  if (crCr !== -1 && (at === -1 || crCr < at)) at = crCr;
  return at === -1 ? -1 : pairEnd(buf, at);
}

/**
 * Cuts a byte stream into runs of complete events, keeping the unfinished tail as views of
 * the chunks it came in (no copy until a run is needed), and says whether a run may hold a
 * usage object, including a `"usage"` key split across chunks.
 */
export class SseRuns {
  readonly #maxTailBytes: number;
  /** Views of the bytes after the last event boundary. */
  #tail: Buffer[] = [];
  #tailBytes = 0;
  #tailHasUsage = false;
  /** The tail's last bytes (at most the key's length minus one), for keys split across chunks. */
  readonly #recent = Buffer.alloc(KEY_LENGTH - 1);
  #recentLength = 0;
  /** Recent bytes followed by the head of the next chunk; reused to avoid an allocation per chunk. */
  readonly #scratch = Buffer.alloc(2 * (KEY_LENGTH - 1));
  /** The tail's last byte, for a blank line split between two chunks. */
  #lastByte = -1;
  /** Whether the run last returned by `push` or `flush` may hold a usage object. */
  runHasUsage = false;

  /** `maxTailBytes` bounds one unfinished event; a longer one is handed on as it is. */
  constructor(maxTailBytes: number) {
    this.#maxTailBytes = maxTailBytes;
  }

  /**
   * Feeds a chunk. Returns the run of events it completed when there is one and the caller
   * wants it (`always`, or the run may hold usage); undefined otherwise.
   */
  push(chunk: Buffer, always: boolean): Buffer | undefined {
    if (chunk.length === 0) return undefined;
    // Nothing straddles an event boundary: with no tail, neither a key nor a blank line can.
    const carried = this.#tailBytes > 0;
    const split = carried && this.#keySplitInto(chunk);
    const key = usageObjectKeyAt(chunk, 0);
    let end = lastEventEnd(chunk);
    if (end === -1 && carried) end = this.#blankLineAcross(chunk);
    if (end === -1) {
      this.#remember(chunk);
      if (this.#tailBytes + chunk.length > this.#maxTailBytes) {
        // An event this long is no usage event; hand it on rather than hold it without bound.
        const run = always ? this.#join(chunk) : undefined;
        this.#reset();
        this.runHasUsage = false;
        return run;
      }
      this.#tail.push(chunk);
      this.#tailBytes += chunk.length;
      this.#tailHasUsage ||= split || key !== -1;
      return undefined;
    }
    this.runHasUsage = this.#tailHasUsage || split || (key !== -1 && key < end);
    const run = always || this.runHasUsage ? this.#join(chunk.subarray(0, end)) : undefined;
    if (end === chunk.length) {
      this.#reset();
    } else {
      const rest = chunk.subarray(end);
      this.#tail = [rest];
      this.#tailBytes = rest.length;
      this.#tailHasUsage = key >= end || usageObjectKeyAt(chunk, end) !== -1;
      this.#recentLength = 0;
      this.#remember(rest);
    }
    return run;
  }

  /** Ends the stream: the unfinished tail (an event without its blank line), if any. */
  flush(): Buffer | undefined {
    this.runHasUsage = this.#tailHasUsage;
    const run = this.#tailBytes === 0 ? undefined : this.#join(undefined);
    this.#reset();
    return run;
  }

  #join(last: Buffer | undefined): Buffer {
    if (this.#tail.length === 0) return last ?? Buffer.alloc(0);
    if (last === undefined) {
      return this.#tail.length === 1 && this.#tail[0] !== undefined
        ? this.#tail[0]
        : Buffer.concat(this.#tail);
    }
    this.#tail.push(last);
    return Buffer.concat(this.#tail);
  }

  #reset(): void {
    this.#tail = [];
    this.#tailBytes = 0;
    this.#tailHasUsage = false;
    this.#recentLength = 0;
  }

  /** True when a usage key with a possible object value starts in earlier bytes and ends here. */
  #keySplitInto(chunk: Buffer): boolean {
    if (this.#recentLength === 0) return false;
    const head = Math.min(chunk.length, KEY_LENGTH - 1);
    this.#recent.copy(this.#scratch, 0, 0, this.#recentLength);
    chunk.copy(this.#scratch, this.#recentLength, 0, head);
    // Zeros never match the key, so the unused end of the scratch buffer needs no slicing.
    this.#scratch.fill(0, this.#recentLength + head);
    const at = this.#scratch.indexOf(USAGE_KEY);
    if (at === -1) return false;
    const value = usageValueStart(chunk, at + KEY_LENGTH - this.#recentLength);
    return value >= 0 || value === UNDECIDED;
  }

  /** The end of a blank line whose two terminators straddle the previous chunk and this one. */
  #blankLineAcross(chunk: Buffer): number {
    const first = chunk[0];
    const previous = this.#lastByte;
    // CR then LF is one CRLF terminator, not a blank line.
    if ((previous === LF && (first === LF || first === CR)) || (previous === CR && first === CR)) {
      return first === CR && chunk[1] === LF ? 2 : 1;
    }
    return -1;
  }

  #remember(chunk: Buffer): void {
    const size = this.#recent.length;
    if (chunk.length >= size) {
      chunk.copy(this.#recent, 0, chunk.length - size);
      this.#recentLength = size;
    } else {
      const keep = Math.min(this.#recentLength, size - chunk.length);
      // Buffer#copy handles the overlap of shifting the kept bytes to the front.
      this.#recent.copy(this.#recent, 0, this.#recentLength - keep, this.#recentLength);
      chunk.copy(this.#recent, keep);
      this.#recentLength = keep + chunk.length;
    }
    this.#lastByte = chunk[chunk.length - 1] ?? -1;
  }
}
