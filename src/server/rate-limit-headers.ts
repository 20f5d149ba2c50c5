import type { Limit } from '../core/plans.js';
import type { PeriodView } from '../core/types.js';

/** The last period's window: consecutive answers mostly share it, and parsing two ISO instants is not free. */
let last: { start: string; end: string; w: number; endMs: number } | undefined;

function windowOf(period: PeriodView): { w: number; endMs: number } {
  if (last?.start !== period.start || last.end !== period.end) {
    const startMs = Date.parse(period.start);
    const endMs = Date.parse(period.end);
    last = { start: period.start, end: period.end, w: Math.round((endMs - startMs) / 1000), endMs };
  }
  return last;
}

/**
 * draft-ietf-httpapi-ratelimit-headers-10: the feature's quota as a policy
 * (q units per w seconds) and what is left of it (r units for t seconds,
 * t rounded up). None when the feature is unlimited.
 */
export function rateLimitHeaders(
  feature: string,
  r: { limit: Limit; remaining: number | null; period: PeriodView; secondsLeft?: number },
  nowMs: number,
): Record<string, string> {
  if (r.limit === null || r.remaining === null) return {};
  const { w, endMs } = windowOf(r.period);
  // The answer's own secondsLeft when it has one, so the header and the body agree (a replay's included).
  const t = r.secondsLeft ?? Math.max(0, Math.ceil((endMs - nowMs) / 1000));
  const name = JSON.stringify(feature);
  return {
    'RateLimit-Policy': `${name};q=${r.limit};w=${w}`,
    RateLimit: `${name};r=${Math.max(0, r.remaining)};t=${t}`,
  };
}
