/**
 * `quotaclock/client`: the quotaclock service over fetch. No dependencies and
 * no Node built-ins, so it runs on Node 20+ and in edge runtimes, and a bundle
 * of it stays small.
 */
export { QuotaClockClient } from './client.js';
export type { ConsumeCallOptions, FailMode, QuotaClockClientOptions } from './client.js';
export { QuotaClockApiError, QuotaClockClientError, QuotaClockUnavailableError } from './errors.js';
export { toRateLimitHeaders } from './rate-limit-headers.js';
export type { RateLimitHeaders, RateLimitSource } from './rate-limit-headers.js';
export type * from './types.js';
