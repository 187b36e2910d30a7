/**
 * Watches a provider's server-sent-event stream without buffering the answer:
 * - before anything reaches the client, it holds the first events back until one carries
 *   content, so an error event that arrives first is a failure the chain can still fall back
 *   from (DESIGN section 2 step 4);
 * - after that it only looks for an error event and for the stream's terminator with native
 *   byte searches, so a stream that ends without its terminator is never passed off as complete.
 */
import type { ClientFormat } from './client-errors.ts';

export type PreContentVerdict =
  | { readonly kind: 'pending' }
  | { readonly kind: 'content' }
  | { readonly kind: 'error'; readonly message: string };

const PENDING: PreContentVerdict = Object.freeze({ kind: 'pending' });
const CONTENT: PreContentVerdict = Object.freeze({ kind: 'content' });

// Markers searched for in raw bytes once the stream is committed.
const MARKERS = {
  openai: { error: Buffer.from('data: {"error"'), end: Buffer.from('data: [DONE]') },
  anthropic: { error: Buffer.from('event: error'), end: Buffer.from('event: message_stop') },
} as const;
/** Longest marker minus one: bytes kept from the previous chunk so split markers are found. */
const CARRY = 24;
/** Pre-content events are tiny; a provider sending this much without content is not SSE. */
const MAX_PRE_CONTENT_BYTES = 256 * 1024;

export class SseInspector {
  readonly #format: ClientFormat;
  #pre = '';
  #carry: Buffer = Buffer.alloc(0);
  /** An error event passed through after content. */
  sawError = false;
  /** The stream's own terminator (`[DONE]` / `message_stop`) passed through. */
  sawEnd = false;

  constructor(format: ClientFormat) {
    this.#format = format;
  }

  /** Feeds a chunk received before commit; the caller buffers the chunks themselves. */
  preContent(chunk: Buffer): PreContentVerdict {
    this.#pre += chunk.toString('utf8');
    let boundary = this.#pre.indexOf('\n\n');
    while (boundary !== -1) {
      const event = this.#pre.slice(0, boundary);
      this.#pre = this.#pre.slice(boundary + 2);
      const verdict = this.#classifyEvent(event);
      if (verdict !== PENDING) {
        // Everything from here on is scanned as committed bytes.
        this.scan(chunk);
        return verdict;
      }
      boundary = this.#pre.indexOf('\n\n');
    }
    if (this.#pre.length > MAX_PRE_CONTENT_BYTES) return CONTENT;
    return PENDING;
  }

  /** Scans a committed chunk for an error event and the terminator. */
  scan(chunk: Buffer): void {
    const markers = MARKERS[this.#format];
    const view = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk]);
    if (!this.sawError && view.indexOf(markers.error) !== -1) this.sawError = true;
    if (!this.sawEnd && view.indexOf(markers.end) !== -1) this.sawEnd = true;
    this.#carry = view.length > CARRY ? view.subarray(view.length - CARRY) : view;
  }

  #classifyEvent(event: string): PreContentVerdict {
    let name = '';
    let data = '';
    for (const line of event.split('\n')) {
      if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data += line.slice(5).trimStart();
    }
    if (data === '' && name === '') return PENDING; // comment or keep-alive
    if (this.#format === 'openai') {
      if (data === '[DONE]') return CONTENT;
      const parsed = safeJson(data);
      if (parsed !== null && typeof parsed === 'object' && 'error' in parsed) {
        return { kind: 'error', message: messageOf(parsed.error) };
      }
      return CONTENT;
    }
    if (name === 'ping' || name === 'message_start') return PENDING;
    if (name === 'error') {
      const parsed = safeJson(data) as { error?: unknown } | null;
      return { kind: 'error', message: messageOf(parsed?.error) };
    }
    return CONTENT;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function messageOf(error: unknown): string {
  if (error !== null && typeof error === 'object' && 'message' in error) {
    const { message } = error;
    if (typeof message === 'string') return message.slice(0, 200);
  }
  return 'error event in stream';
}
