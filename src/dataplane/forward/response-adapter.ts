/**
 * How an attempt turns an upstream's response into the app's API format. Same-format targets
 * need none (bytes pass through untouched); a target speaking another API gets one built from
 * the translators in providers/translate/.
 */
export interface ResponseAdapter {
  /**
   * Converts a complete JSON body (an answer or an error) into the app's format; undefined when
   * the answer holds something the app's API cannot express (the chain then moves on).
   */
  body(status: number, body: Buffer): Buffer | undefined;
  /** A converter for one event stream, fed upstream bytes chunk by chunk. */
  stream(): StreamConverter;
}

export interface StreamConverter {
  /** Text to send to the app for this upstream chunk (may be empty). */
  push(chunk: Buffer): string;
  /** Text to send when the upstream stream ended cleanly. */
  end(): string;
}
