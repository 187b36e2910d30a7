/**
 * The logging surface the Kubernetes plumbing needs: pino-style `(fields, message)`. Declared
 * here rather than importing pino so tests can capture lines with a plain object.
 */

/** Structured logger; pino's `Logger` satisfies it. Callers never pass tokens or Secret data. */
export interface KubeLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Discards everything; the default so a component works without a logger in tests. */
export const silentLogger: KubeLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
