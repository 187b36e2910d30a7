/**
 * Masks a credential the sidecar injected (a fallback's `apiKey`) in whatever it relays from
 * that target: a provider that echoes the key in an error body or a header would otherwise hand
 * the policy's key to the app. The key is masked as it is and in its JSON-escaped forms (any of
 * its characters written `\u00XX`, `/` also `\/`), which a JSON body may use for the same
 * string. Other encodings of the key (base64, URL encoding, a compressed body the sidecar did
 * not decode) are not recognized. Each mask has the length of what it covers, so Content-Length
 * stays right.
 */
export class SecretRedactor {
  readonly #secret: Buffer;
  readonly #secretText: string;
  readonly #mask: Buffer;
  /** The key with any character JSON-escaped (undefined for a key that is not printable ASCII). */
  readonly #escaped: RegExp | undefined;
  /** The longest text either form can take. */
  readonly #longest: number;
  /** The end of the last chunk, held back because a key may be split across chunks. */
  #carry: Buffer | undefined;

  constructor(secret: string) {
    this.#secret = Buffer.from(secret);
    this.#secretText = secret;
    this.#mask = Buffer.alloc(this.#secret.length, '*');
    this.#escaped = cachedEscapedForm(secret);
    this.#longest = this.#escaped === undefined ? this.#secret.length : secret.length * 6;
  }

  /** A whole body or event: masked (a copy only when the key occurs). */
  mask(bytes: Buffer): Buffer {
    let out = bytes;
    if (bytes.indexOf(this.#secret) !== -1) {
      out = Buffer.from(bytes);
      for (let at = out.indexOf(this.#secret); at !== -1; at = out.indexOf(this.#secret, at)) {
        this.#mask.copy(out, at);
        at += this.#mask.length;
      }
    }
    if (this.#escaped === undefined || !mayBeEscaped(out)) return out;
    // Latin-1 maps each byte to one character and back, so the bytes around a match survive.
    const text = out.toString('latin1');
    const masked = text.replace(this.#escaped, stars);
    return masked === text ? out : Buffer.from(masked, 'latin1');
  }

  /** A header value or translated text: masked. */
  maskText(value: string): string {
    const secret = this.#secretText;
    const plain = value.includes(secret)
      ? value.split(secret).join('*'.repeat(secret.length))
      : value;
    if (this.#escaped === undefined || !(plain.includes('\\u') || plain.includes('\\/')))
      return plain;
    return plain.replace(this.#escaped, stars);
  }

  /** Part of a body passed on chunk by chunk: what can be sent now (the tail waits). */
  push(chunk: Buffer): Buffer {
    const joined = this.#carry === undefined ? chunk : Buffer.concat([this.#carry, chunk]);
    const keep = Math.min(joined.length, this.#longest - 1);
    const masked = this.mask(joined);
    this.#carry = keep === 0 ? undefined : masked.subarray(masked.length - keep);
    return masked.subarray(0, masked.length - keep);
  }

  /** The held tail, at the end of the body. */
  flush(): Buffer {
    const rest = this.#carry ?? Buffer.alloc(0);
    this.#carry = undefined;
    return rest;
  }
}

function stars(match: string): string {
  return '*'.repeat(match.length);
}

/** Whether bytes hold a JSON escape that could spell a key character (`\u`, `\/`). */
function mayBeEscaped(bytes: Buffer): boolean {
  return bytes.indexOf('\\u') !== -1 || bytes.indexOf('\\/') !== -1;
}

/**
 * The pattern of each key, built once: a redactor is made per call to a target with its own
 * key, and building the pattern cost about 3% of the sidecar's CPU on a stream. Keys come from
 * the policy, so there are few; the cache is emptied if it ever holds many. (A global RegExp is
 * safe to share here: String.prototype.replace starts it from 0.)
 */
const ESCAPED_FORMS = new Map<string, RegExp | undefined>();
const MAX_CACHED_FORMS = 256;

function cachedEscapedForm(secret: string): RegExp | undefined {
  if (ESCAPED_FORMS.has(secret)) return ESCAPED_FORMS.get(secret);
  if (ESCAPED_FORMS.size >= MAX_CACHED_FORMS) ESCAPED_FORMS.clear();
  const form = escapedForm(secret);
  ESCAPED_FORMS.set(secret, form);
  return form;
}

/** Matches the key with each character as itself or JSON-escaped (`\u002d`, `\u002D`, `\/`). */
function escapedForm(secret: string): RegExp | undefined {
  if (secret.length === 0 || !/^[\x20-\x7e]+$/.test(secret)) return undefined;
  let source = '';
  for (const char of secret) {
    const hex = char.charCodeAt(0).toString(16).padStart(4, '0');
    const anyCase = hex.replace(/[a-f]/g, (digit) => `[${digit}${digit.toUpperCase()}]`);
    const literal = char.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
    source += `(?:${literal}|\\\\u${anyCase}${char === '/' ? '|\\\\/' : ''})`;
  }
  return new RegExp(source, 'g');
}
