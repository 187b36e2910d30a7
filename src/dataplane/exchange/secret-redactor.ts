/**
 * Masks a credential the sidecar injected (a fallback's `apiKey`) in whatever it relays from
 * that target: a provider that echoes the key in an error body or a header would otherwise hand
 * the policy's key to the app. The mask has the key's length, so Content-Length stays right.
 */
export class SecretRedactor {
  readonly #secret: Buffer;
  readonly #secretText: string;
  readonly #mask: Buffer;
  /** The end of the last chunk, held back because a key may be split across chunks. */
  #carry: Buffer | undefined;

  constructor(secret: string) {
    this.#secret = Buffer.from(secret);
    this.#secretText = secret;
    this.#mask = Buffer.alloc(this.#secret.length, '*');
  }

  /** A whole body or event: masked (a copy only when the key occurs). */
  mask(bytes: Buffer): Buffer {
    if (bytes.indexOf(this.#secret) === -1) return bytes;
    const out = Buffer.from(bytes);
    for (let at = out.indexOf(this.#secret); at !== -1; at = out.indexOf(this.#secret, at)) {
      this.#mask.copy(out, at);
      at += this.#mask.length;
    }
    return out;
  }

  /** A header value: masked. */
  maskText(value: string): string {
    const secret = this.#secretText;
    return value.includes(secret) ? value.split(secret).join('*'.repeat(secret.length)) : value;
  }

  /** Part of a body passed on chunk by chunk: what can be sent now (the tail waits). */
  push(chunk: Buffer): Buffer {
    const joined = this.#carry === undefined ? chunk : Buffer.concat([this.#carry, chunk]);
    const keep = Math.min(joined.length, this.#secret.length - 1);
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
