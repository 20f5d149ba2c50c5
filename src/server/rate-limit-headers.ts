import type { Limit } from '../core/plans.js';
import type { PeriodView } from '../core/types.js';

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
  const startMs = Date.parse(r.period.start);
  const endMs = Date.parse(r.period.end);
  const w = Math.round((endMs - startMs) / 1000);
  // The answer's own secondsLeft when it has one, so the header and the body agree (a replay's included).
  const t = r.secondsLeft ?? Math.max(0, Math.ceil((endMs - nowMs) / 1000));
  const name = JSON.stringify(feature);
  return {
    'RateLimit-Policy': `${name};q=${r.limit};w=${w}`,
    RateLimit: `${name};r=${Math.max(0, r.remaining)};t=${t}`,
  };
}
