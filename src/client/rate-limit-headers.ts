import type { Limit, PeriodView } from './types.js';

/** The parts of a consume or check answer the headers are made of. */
export interface RateLimitSource {
  readonly feature?: string;
  readonly limit: Limit;
  readonly remaining: number | null;
  readonly period: PeriodView | null;
  /** The answer's own seconds left; used for `t` unless `nowMs` is given. */
  readonly secondsLeft?: number | null;
}

export type RateLimitHeaders =
  { readonly 'RateLimit-Policy': string; readonly RateLimit: string } | Record<string, never>;

/** An sf-string (RFC 9651 3.3.3): quoted, with backslash and quote escaped. */
const sfString = (value: string) => `"${value.replace(/[\\"]/g, '\\$&')}"`;

/**
 * The draft-ietf-httpapi-ratelimit-headers-10 fields for a consume or check
 * answer, for an app server to pass on to its own users:
 * `RateLimit-Policy: "<feature>";q=<limit>;w=<period seconds>` and
 * `RateLimit: "<feature>";r=<remaining>;t=<seconds until the period ends, rounded up>`.
 * `{}` when the feature is unlimited (limit null), and for a fail-mode answer.
 * `t` is the answer's `secondsLeft` (so it equals the service's own header),
 * or counted from `nowMs` when that is given.
 */
export function toRateLimitHeaders(result: RateLimitSource, nowMs?: number): RateLimitHeaders {
  if (result.limit === null || result.period === null) return {};
  if (typeof result.feature !== 'string' || result.feature === '') {
    throw new TypeError('toRateLimitHeaders: result.feature is missing');
  }
  const startMs = Date.parse(result.period.start);
  const endMs = Date.parse(result.period.end);
  const window = Math.round((endMs - startMs) / 1000);
  const untilEnd =
    nowMs === undefined && typeof result.secondsLeft === 'number'
      ? result.secondsLeft
      : Math.max(0, Math.ceil((endMs - (nowMs ?? Date.now())) / 1000));
  const name = sfString(result.feature);
  return {
    'RateLimit-Policy': `${name};q=${result.limit};w=${window}`,
    RateLimit: `${name};r=${result.remaining ?? 0};t=${untilEnd}`,
  };
}
