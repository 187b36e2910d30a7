/** Parses a Retry-After header (delta seconds or HTTP date) into milliseconds from now. */
export function parseRetryAfterMs(
  value: string | string[] | undefined,
  wallNowMs: number,
): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - wallNowMs);
}
