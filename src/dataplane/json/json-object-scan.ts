/**
 * Reads what the sidecar needs from a JSON request body without parsing it: checks that the
 * body is one well-formed JSON object (structure, tokens, nesting at most `maxDepth`), and
 * returns the byte spans of the few top-level values asked for (`model`, `stream`, ...).
 *
 * Why not JSON.parse: a prompt of a megabyte was decoded, parsed into objects and re-serialized
 * to read two fields, and a 200k-deep body overflowed the stack in JSON.stringify. Here the
 * bulk of a body (string contents) is skipped with native byte searches, nesting is tracked in
 * a fixed array (no recursion), and nothing is allocated per value. The contents of strings are
 * not validated (control characters, escapes): the provider does that, and a 400 from it is the
 * caller's mistake, never charged to the provider's circuit.
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
        const end = stringEnd(buf, i);
        if (end === -1) return fail('unterminated string', i);
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
        const end = c === QUOTE ? stringEnd(buf, i) : scalarEnd(buf, i);
        if (end === -1) return fail(c === QUOTE ? 'unterminated string' : 'invalid value', i);
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

/** The offset after the closing quote of the string opening at `at`; -1 when unterminated. */
export function stringEnd(buf: Buffer, at: number): number {
  let from = at + 1;
  for (;;) {
    const quote = buf.indexOf(QUOTE, from);
    if (quote === -1) return -1;
    // A quote is escaped when an odd number of backslashes precede it.
    let k = quote - 1;
    while (buf[k] === BACKSLASH) k--;
    if ((quote - 1 - k) % 2 === 0) return quote + 1;
    from = quote + 1;
  }
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
