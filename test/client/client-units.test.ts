import { describe, expect, it } from 'vitest';
import { QuotaClockClient, toRateLimitHeaders } from '../../src/client/index.js';
import { backoffDelay, isRetryableStatus, parseRetryAfter } from '../../src/client/retry-policy.js';

const period = {
  key: '2026-12',
  start: '2026-12-01T00:00:00.000Z',
  end: '2027-01-01T00:00:00.000Z',
};

describe('QuotaClockClient options', () => {
  const base = { url: 'http://127.0.0.1:8787', apiKey: 'qck_x' };

  it.each([undefined, '', 'CLOSED', 'fail-open', true])(
    'throws TypeError for failMode %j',
    (failMode) => {
      expect(() => new QuotaClockClient({ ...base, failMode } as never)).toThrow(TypeError);
      expect(() => new QuotaClockClient({ ...base, failMode } as never)).toThrow(/failMode/);
    },
  );

  it('accepts closed and open, and names a bad option', () => {
    expect(new QuotaClockClient({ ...base, failMode: 'closed' }).failMode).toBe('closed');
    expect(new QuotaClockClient({ ...base, failMode: 'open' }).failMode).toBe('open');
    expect(() => new QuotaClockClient({ ...base, failMode: 'open', url: 'localhost' })).toThrow(
      /url/,
    );
    expect(() => new QuotaClockClient({ ...base, failMode: 'open', apiKey: '' })).toThrow(/apiKey/);
    expect(() => new QuotaClockClient({ ...base, failMode: 'open', retries: -1 })).toThrow(
      /retries/,
    );
    expect(() => new QuotaClockClient({ ...base, failMode: 'open', timeoutMs: 0 })).toThrow(
      /timeoutMs/,
    );
  });
});

describe('retry policy', () => {
  it('retries 5xx, 429 and a key in flight, not other 4xx', () => {
    expect(isRetryableStatus(503, 'STORE_UNAVAILABLE')).toBe(true);
    expect(isRetryableStatus(500, undefined)).toBe(true);
    expect(isRetryableStatus(429, 'RATE_LIMITED')).toBe(true);
    expect(isRetryableStatus(409, 'IDEMPOTENCY_KEY_IN_FLIGHT')).toBe(true);
    expect(isRetryableStatus(409, 'LEASE_HELD')).toBe(false);
    expect(isRetryableStatus(400, 'INVALID_AMOUNT')).toBe(false);
    expect(isRetryableStatus(401, 'UNAUTHENTICATED')).toBe(false);
    expect(isRetryableStatus(422, 'IDEMPOTENCY_KEY_REUSED')).toBe(false);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-12-06T20:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 06 Dec 2026 20:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Sun, 06 Dec 2026 19:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('backs off exponentially, with jitter in the upper half, up to the cap', () => {
    expect(backoffDelay(0, 100, 5000, 0)).toBe(50);
    expect(backoffDelay(0, 100, 5000, 1)).toBe(100);
    expect(backoffDelay(3, 100, 5000, 0.5)).toBe(600);
    expect(backoffDelay(20, 100, 5000, 1)).toBe(5000);
  });
});

describe('toRateLimitHeaders', () => {
  it('gives the draft-10 policy and remaining, t rounded up', () => {
    const now = Date.parse('2026-12-31T23:59:58.200Z');
    const headers = toRateLimitHeaders(
      { feature: 'stock_reports', limit: 10, remaining: 3, period },
      now,
    );
    expect(headers).toEqual({
      'RateLimit-Policy': '"stock_reports";q=10;w=2678400',
      RateLimit: '"stock_reports";r=3;t=2',
    });
  });

  it("takes t from the answer's secondsLeft unless a time is given", () => {
    const answer = { feature: 'f', limit: 10, remaining: 3, period, secondsLeft: 42 };
    expect(toRateLimitHeaders(answer)).toMatchObject({ RateLimit: '"f";r=3;t=42' });
    const now = Date.parse('2026-12-31T23:59:58.200Z');
    expect(toRateLimitHeaders(answer, now)).toMatchObject({ RateLimit: '"f";r=3;t=2' });
  });

  it('is empty when unlimited or for a fail-mode answer', () => {
    expect(toRateLimitHeaders({ feature: 'f', limit: null, remaining: null, period })).toEqual({});
    expect(
      toRateLimitHeaders({ feature: 'f', limit: null, remaining: null, period: null }),
    ).toEqual({});
  });

  it('escapes the feature as an sf-string and needs one', () => {
    const h = toRateLimitHeaders({ feature: 'a"b\\c', limit: 1, remaining: 0, period }, 0);
    expect(h).toMatchObject({ RateLimit: '"a\\"b\\\\c";r=0;t=1798761600' });
    expect(() => toRateLimitHeaders({ limit: 1, remaining: 0, period })).toThrow(TypeError);
  });
});
