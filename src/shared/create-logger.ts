/**
 * The one pino factory. JSON lines, ISO timestamps, and redaction of every header that can
 * carry a credential plus any secret value the caller registers (resolved API keys, webhook
 * URLs), so a key never reaches a log line even when it sits inside a message.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

/** Header names that carry credentials, in any request or response object we log. */
const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers["api-key"]',
  'apiKey',
  '*.apiKey',
];

export interface LoggerOptions {
  readonly level?: string;
  readonly name?: string;
  /** Where lines go; stdout by default. Tests pass a capturing stream. */
  readonly destination?: DestinationStream;
  /** Returns the secret values currently in use; any occurrence in a line is masked. */
  readonly secrets?: () => readonly string[];
}

export type { Logger };

export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = options.secrets;
  return pino(
    {
      level: options.level ?? 'info',
      ...(options.name === undefined ? {} : { name: options.name }),
      timestamp: pino.stdTimeFunctions.isoTime,
      base: { pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      hooks:
        secrets === undefined
          ? {}
          : {
              // Masks secrets that ended up inside messages or values, not only known paths.
              streamWrite: (line: string) => maskSecrets(line, secrets()),
            },
    },
    options.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** Replaces every occurrence of each secret (and its JSON-escaped form) with [redacted]. */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    // Short values would mask innocent text and are not real credentials.
    if (secret.length < 8) continue;
    out = out.split(secret).join('[redacted]');
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) out = out.split(escaped).join('[redacted]');
  }
  return out;
}
