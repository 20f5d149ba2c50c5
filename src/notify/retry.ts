import { PermanentDeliveryError } from './types.js';

export interface RetryPolicy {
  /** Total tries, the first included. */
  readonly attempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * The longest Retry-After (HTTP 429/503) honoured: the receiver's wait is
   * kept even beyond maxDelayMs, which caps only our own backoff, up to this.
   */
  readonly maxRetryAfterMs?: number;
}

export const DEFAULT_MAX_RETRY_AFTER_MS = 120_000;

/** A transient failure that names how long the receiver asked us to wait (HTTP 429/503 Retry-After). */
export class RetryAfterError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
  }
}

export function backoffDelay(
  policy: RetryPolicy,
  failedAttempt: number,
  random = Math.random,
): number {
  const exp = policy.initialDelayMs * 2 ** (failedAttempt - 1);
  const capped = Math.min(policy.maxDelayMs, exp);
  // Full jitter on the upper half: spreads retries from many hosts, never waits less than half.
  return Math.round(capped / 2 + (random() * capped) / 2);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` until it succeeds, fails permanently or runs out of attempts.
 * Resolves with the attempt count and the last error; never rejects.
 */
export async function withRetries(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<void>,
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void,
): Promise<{ ok: boolean; attempts: number; error?: unknown }> {
  let attempt = 0;
  for (;;) {
    attempt += 1;
    try {
      await fn(attempt);
      return { ok: true, attempts: attempt };
    } catch (e) {
      if (e instanceof PermanentDeliveryError || attempt >= policy.attempts) {
        return { ok: false, attempts: attempt, error: e };
      }
      let delay = backoffDelay(policy, attempt);
      // Retrying sooner than the receiver asked only earns another 429.
      if (e instanceof RetryAfterError)
        delay = Math.max(
          delay,
          Math.min(e.retryAfterMs, policy.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS),
        );
      onRetry?.(attempt, e, delay);
      await sleep(delay);
    }
  }
}
