/**
 * Durations at the API edge are strings such as "30s", "1m30s" or "250ms" (Go/Kubernetes
 * syntax, so CEL's `duration()` understands the same values); inside the product they are
 * milliseconds.
 */

/** Accepted syntax: one or more `<number><unit>` groups, unit ms, s, m or h. */
export const DURATION_PATTERN = '^([0-9]+([.][0-9]+)?(ms|s|m|h))+$';

const DURATION_RE = new RegExp(DURATION_PATTERN);
const PART_RE = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Parses a duration string into whole milliseconds, or returns undefined when malformed. */
export function parseDurationMs(text: string): number | undefined {
  if (!DURATION_RE.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(PART_RE)) {
    const value = Number(match[1]);
    const unit = match[2] as keyof typeof UNIT_MS;
    total += value * UNIT_MS[unit];
  }
  return Math.round(total);
}

/** Formats milliseconds as the shortest exact duration string ("90s" → "1m30s"). */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`duration must be >= 0 ms, got ${ms}`);
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}
