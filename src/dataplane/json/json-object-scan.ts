/**
 * Reads what the sidecar needs from a JSON request body without parsing it: checks that the
 * body is one well-formed JSON object (structure, tokens, nesting at most `maxDepth`), and
 * returns the byte spans of the few top-level values asked for (`model`, `stream`, ...).
 *
 * Why not JSON.parse: a prompt of a megabyte was decoded, parsed into objects and re-serialized
 * to read two fields, and a 200k-deep body overflowed the stack in JSON.stringify. Here the
 * bulk of a body (string contents) is skipped with native byte searches, nesting is tracked in
 * a fixed array (no recursion), and nothing is allocated per value. The contents of strings are
 * checked as JSON.parse would (no raw control characters, only valid escapes), four bytes at a
 * time (StringReader). Not checked: that the bytes are valid UTF-8 (a body is decoded with
 * replacement characters, so JSON.parse would not notice either).
 */

/** A value's byte span in the body: [start, end). */
export interface JsonSpan {
  readonly start: number;
  readonly end: number;
}

export type JsonObjectScan =
  | {
      readonly ok: true;
      /** The spans of the wanted top-level keys present (the last one wins, as in JSON.parse). */
      readonly values: ReadonlyMap<string, JsonSpan>;
      /** Offset just after the opening brace (where a new key can be inserted). */
      readonly bodyStart: number;
      /** Whether the object has no keys at all. */
      readonly empty: boolean;
    }
  | { readonly ok: false; readonly reason: string };

/** Deeper JSON than this is refused (no provider accepts it, and it is a stack attack). */
export const MAX_JSON_DEPTH = 512;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

const OBJ = 1;
const ARR = 2;

// What the scanner expects next.
const KEY_OR_END = 0;
const KEY = 1;
const AFTER_KEY = 2;
const VALUE = 3;
const VALUE_OR_END = 4;
const AFTER_VALUE = 5;

/** Longest top-level key compared against the wanted ones (longer keys are never wanted). */
const MAX_WANTED_KEY_BYTES = 64;

function fail(reason: string, at: number): JsonObjectScan {
  return { ok: false, reason: `${reason} at byte ${at}` };
}

/** Scans `buf` as one JSON object; `wanted` names the top-level keys whose spans to return. */
export function scanJsonObject(
  buf: Buffer,
  wanted: ReadonlySet<string>,
  maxDepth = MAX_JSON_DEPTH,
): JsonObjectScan {
  const length = buf.length;
  const stack = new Uint8Array(maxDepth + 1);
  const values = new Map<string, JsonSpan>();
  let i = skipSpace(buf, 0);
  if (buf[i] !== LBRACE) return fail('the body is not a JSON object', i);
  i++;
  const bodyStart = i;
  let depth = 1;
  stack[1] = OBJ;
  let state = KEY_OR_END;
  let key: string | undefined; // the wanted top-level key whose value comes next
  let valueStart = 0;
  let empty = true;
  const strings = new StringReader(buf);
  for (;;) {
    i = skipSpace(buf, i);
    if (i >= length) return fail('the JSON ends early', i);
    const c = buf[i] ?? -1;
    switch (state) {
      case KEY_OR_END:
      case KEY: {
        if (c === RBRACE && state === KEY_OR_END) {
          i++;
          depth--;
          if (depth === 0) return finish(buf, i, values, bodyStart, empty);
          if (depth === 1 && key !== undefined) values.set(key, { start: valueStart, end: i });
          state = AFTER_VALUE;
          break;
        }
        if (c !== QUOTE) return fail('expected a key', i);
        const end = strings.end(i);
        if (end === -1) return strings.problem;
        if (depth === 1) {
          empty = false;
          key = wantedKey(buf, i, end, wanted);
        }
        i = end;
        state = AFTER_KEY;
        break;
      }
      case AFTER_KEY:
        if (c !== COLON) return fail("expected ':'", i);
        i++;
        state = VALUE;
        break;
      case VALUE:
      case VALUE_OR_END: {
        if (c === RBRACKET && state === VALUE_OR_END) {
          i++;
          depth--;
          if (depth === 1 && key !== undefined) values.set(key, { start: valueStart, end: i });
          state = AFTER_VALUE;
          break;
        }
        if (depth === 1) valueStart = i;
        if (c === LBRACE || c === LBRACKET) {
          if (depth === maxDepth) return fail(`nesting deeper than ${maxDepth}`, i);
          depth++;
          stack[depth] = c === LBRACE ? OBJ : ARR;
          state = c === LBRACE ? KEY_OR_END : VALUE_OR_END;
          i++;
          break;
        }
        const end = c === QUOTE ? strings.end(i) : scalarEnd(buf, i);
        if (end === -1) return c === QUOTE ? strings.problem : fail('invalid value', i);
        i = end;
        if (depth === 1 && key !== undefined) values.set(key, { start: valueStart, end: i });
        state = AFTER_VALUE;
        break;
      }
      case AFTER_VALUE: {
        const container = stack[depth];
        if (c === COMMA) {
          i++;
          state = container === OBJ ? KEY : VALUE;
          if (depth === 1) key = undefined;
          break;
        }
        if (c !== (container === OBJ ? RBRACE : RBRACKET))
          return fail(container === OBJ ? "expected ',' or '}'" : "expected ',' or ']'", i);
        i++;
        depth--;
        if (depth === 0) return finish(buf, i, values, bodyStart, empty);
        if (depth === 1 && key !== undefined) values.set(key, { start: valueStart, end: i });
        break;
      }
    }
  }
}

function finish(
  buf: Buffer,
  at: number,
  values: Map<string, JsonSpan>,
  bodyStart: number,
  empty: boolean,
): JsonObjectScan {
  const rest = skipSpace(buf, at);
  if (rest !== buf.length) return fail('unexpected data after the JSON object', rest);
  return { ok: true, values, bodyStart, empty };
}

function skipSpace(buf: Buffer, from: number): number {
  let i = from;
  for (;;) {
    const b = buf[i];
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) return i;
    i++;
  }
}

/**
 * Reads the strings of one body: where each ends, and whether its contents are what JSON.parse
 * accepts (no byte below 0x20, every backslash a valid escape: `\"`, `\\`, `\/`, `\b`, `\f`,
 * `\n`, `\r`, `\t`, `\u` and four hex digits). Plain runs are skipped four bytes at a time
 * (a word trick over an Int32Array view of the body, made once per body), so a megabyte prompt
 * is not read byte by byte in JavaScript.
 */
const NOT_READ: JsonObjectScan = { ok: false, reason: 'no string was refused' };

/** Bodies shorter than this are read byte by byte (a word view costs more than it saves). */
const WORDS_FROM_BYTES = 4096;

class StringReader {
  readonly #buf: Buffer;
  #words: Int32Array | undefined;
  /** The offset of the first whole word of the view. */
  #wordsFrom = 0;
  /** Why the last string was refused. */
  problem: JsonObjectScan = NOT_READ;

  constructor(buf: Buffer) {
    this.#buf = buf;
  }

  /** The offset after the closing quote of the string opening at `at`; -1 when it is invalid. */
  end(at: number): number {
    const buf = this.#buf;
    const length = buf.length;
    let i = at + 1;
    for (;;) {
      if (length >= WORDS_FROM_BYTES && length - i >= 32) i = this.#skipPlain(i);
      const b = buf[i];
      if (b === undefined) return this.#refuse('unterminated string', at);
      if (b === QUOTE) return i + 1;
      if (b === BACKSLASH) {
        const step = escapeLength(buf, i);
        if (step === 0) return this.#refuse('an invalid escape in a string', i);
        i += step;
      } else if (b < 0x20) {
        return this.#refuse('a control character in a string', i);
      } else {
        i++;
      }
    }
  }

  #refuse(reason: string, at: number): number {
    this.problem = fail(reason, at);
    return -1;
  }

  /** The first offset at or after `from` that holds a quote, backslash or control byte (or the
   * start of the word that does, or of the unread tail). */
  #skipPlain(from: number): number {
    const buf = this.#buf;
    if (this.#words === undefined) {
      this.#wordsFrom = (4 - (buf.byteOffset & 3)) & 3;
      this.#words = new Int32Array(
        buf.buffer,
        buf.byteOffset + this.#wordsFrom,
        (buf.length - this.#wordsFrom) >>> 2,
      );
    }
    const words = this.#words;
    let i = from;
    // Up to a word boundary byte by byte.
    for (; ((i - this.#wordsFrom) & 3) !== 0; i++) {
      const b = buf[i] ?? 0;
      if (b === QUOTE || b === BACKSLASH || b < 0x20) return i;
    }
    // A word x holds a byte below 0x20 when (x - 0x20202020) & ~x & 0x80808080 is not zero;
    // a quote or backslash when the same holds for x ^ 0x22222222 or x ^ 0x5c5c5c5c below 0x01
    // (exact for the question "is there one"; bytes of 0x80 and above never count).
    const n = words.length;
    let w = (i - this.#wordsFrom) >>> 2;
    for (; w < n; w++) {
      const x = words[w] ?? 0;
      const q = x ^ 0x22222222;
      const s = x ^ 0x5c5c5c5c;
      if (
        (((x - 0x20202020) & ~x) | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) &
        0x80808080
      )
        break;
    }
    return this.#wordsFrom + w * 4;
  }
}

/** The length of the valid escape at `at` (a backslash), or 0 when it is not one. */
function escapeLength(buf: Buffer, at: number): number {
  switch (buf[at + 1] ?? 0) {
    case 0x22: // "
    case 0x5c: // \
    case 0x2f: // /
    case 0x62: // b
    case 0x66: // f
    case 0x6e: // n
    case 0x72: // r
    case 0x74: // t
      return 2;
    case 0x75: // u
      for (let k = at + 2; k < at + 6; k++) if (!isHex(buf[k])) return 0;
      return 6;
    default:
      return 0;
  }
}

function isHex(b: number | undefined): boolean {
  return (
    b !== undefined &&
    ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66))
  );
}

/** The end of a number or literal starting at `at`; -1 when it is neither. */
function scalarEnd(buf: Buffer, at: number): number {
  const c = buf[at];
  if (c === 0x74) return literal(buf, at, TRUE);
  if (c === 0x66) return literal(buf, at, FALSE);
  if (c === 0x6e) return literal(buf, at, NULL);
  // -?digits[.digits][(e|E)[+-]digits]
  let i = at;
  if (buf[i] === 0x2d) i++;
  const intStart = i;
  while (isDigit(buf[i])) i++;
  if (i === intStart) return -1;
  if (buf[intStart] === 0x30 && i - intStart > 1) return -1;
  if (buf[i] === 0x2e) {
    i++;
    const fracStart = i;
    while (isDigit(buf[i])) i++;
    if (i === fracStart) return -1;
  }
  if (buf[i] === 0x65 || buf[i] === 0x45) {
    i++;
    if (buf[i] === 0x2b || buf[i] === 0x2d) i++;
    const expStart = i;
    while (isDigit(buf[i])) i++;
    if (i === expStart) return -1;
  }
  return i;
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

function literal(buf: Buffer, at: number, word: Buffer): number {
  for (let k = 0; k < word.length; k++) if (buf[at + k] !== word[k]) return -1;
  return at + word.length;
}

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

/** The key's text when it is one of `wanted` (escapes decoded as JSON.parse would); else undefined. */
function wantedKey(
  buf: Buffer,
  start: number,
  end: number,
  wanted: ReadonlySet<string>,
): string | undefined {
  if (end - start > MAX_WANTED_KEY_BYTES) return undefined;
  let escaped = false;
  for (let k = start + 1; k < end - 1; k++) if (buf[k] === BACKSLASH) escaped = true;
  let inner: string;
  try {
    inner = escaped
      ? (JSON.parse(buf.toString('utf8', start, end)) as string)
      : buf.toString('utf8', start + 1, end - 1);
  } catch {
    return undefined; // an invalid escape: the provider rejects the body as the caller's mistake
  }
  return wanted.has(inner) ? inner : undefined;
}

/** The JSON value of a span (small values only: `model`, `stream_options`). */
export function spanValue(buf: Buffer, span: JsonSpan): unknown {
  return JSON.parse(buf.toString('utf8', span.start, span.end)) as unknown;
}
