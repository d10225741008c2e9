/**
 * Parses an HTTP `Retry-After` value: delta seconds (`"120"`, `"1.5"`) or an HTTP date.
 * Returns milliseconds from `now`, or undefined when the value is missing, garbage or negative.
 * A date in the past means "now" (0).
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (/^[+-]?\d/.test(text)) return undefined; // "-5", "10s", "1e3": numeric garbage
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
