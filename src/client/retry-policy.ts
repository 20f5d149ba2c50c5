/**
 * When to retry and how long to wait. Pure, so the rules are testable without
 * a clock or a network.
 */

/** Statuses worth another try: the request may succeed unchanged later. */
export function isRetryableStatus(status: number, code: string | undefined): boolean {
  if (status >= 500) return true;
  if (status === 429) return true;
  // Another request with the same idempotency key is still being processed.
  return status === 409 && code === 'IDEMPOTENCY_KEY_IN_FLIGHT';
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 10.2.3).
 * undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // HTTP dates always name a day or month; this keeps Date.parse from reading "-1" as a year.
  const at = /[a-z]{3}/i.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Exponential backoff with jitter: attempt n (0-based) waits between half and
 * all of min(cap, base·2ⁿ), so clients that failed together do not retry together.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  capMs: number,
  random: number,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}
