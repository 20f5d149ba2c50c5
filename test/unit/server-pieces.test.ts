import { describe, expect, it } from 'vitest';
import { ERROR_CODES, QuotaClockError } from '../../src/core/errors.js';
import { FailedAuthLimiter } from '../../src/server/failed-auth.js';
import { fingerprint, headerKey, resolveKey } from '../../src/server/idempotency.js';
import { classify, toProblem } from '../../src/server/problem.js';
import { rateLimitHeaders } from '../../src/server/rate-limit-headers.js';

const period = {
  key: '2026-12',
  start: '2026-12-01T00:00:00.000Z',
  end: '2027-01-01T00:00:00.000Z',
};

describe('RateLimit headers (draft-10)', () => {
  it('q is the limit, w the period in seconds, r what is left, t whole seconds to the end rounded up', () => {
    const now = Date.parse('2026-12-31T23:59:58.001Z');
    expect(rateLimitHeaders('stock_reports', { limit: 10, remaining: 3, period }, now)).toEqual({
      'RateLimit-Policy': '"stock_reports";q=10;w=2678400',
      RateLimit: '"stock_reports";r=3;t=2',
    });
    expect(
      rateLimitHeaders('f', { limit: 10, remaining: 0, period }, Date.parse(period.end)),
    ).toMatchObject({
      RateLimit: '"f";r=0;t=0',
    });
  });
  it('none when unlimited', () => {
    expect(rateLimitHeaders('f', { limit: null, remaining: null, period }, 0)).toEqual({});
  });
});

describe('Idempotency-Key', () => {
  it('raw and sf-string forms mean the same key; escapes are undone', () => {
    expect(headerKey('abc')).toBe('abc');
    expect(headerKey('"abc"')).toBe('abc');
    expect(headerKey(' "a\\"b\\\\c" ')).toBe('a"b\\c');
    expect(headerKey(undefined)).toBeUndefined();
  });
  it('refuses broken sf-strings, empty values and repeated headers', () => {
    for (const bad of ['"abc', '""', '"a"b"', '"tab\there"', ''])
      expect(() => headerKey(bad), bad).toThrow(QuotaClockError);
    expect(() => headerKey(['a', 'b'])).toThrow(/more than once/);
  });
  it('header and body must agree when both are given', () => {
    expect(resolveKey('a', undefined)).toBe('a');
    expect(resolveKey(undefined, 'b')).toBe('b');
    expect(resolveKey('a', 'a')).toBe('a');
    expect(() => resolveKey('a', 'b')).toThrow(/differ/);
  });
  it('the fingerprint ignores key order and where the key came from, not the values', () => {
    const a = fingerprint('consume', {
      subject: 's',
      feature: 'f',
      amount: 1,
      meta: { x: 1, y: 2 },
    });
    expect(
      fingerprint('consume', {
        meta: { y: 2, x: 1 },
        amount: 1,
        feature: 'f',
        subject: 's',
        key: 'k',
      }),
    ).toBe(a);
    expect(
      fingerprint('consume', { subject: 's', feature: 'f', amount: 2, meta: { x: 1, y: 2 } }),
    ).not.toBe(a);
    expect(
      fingerprint('check', { subject: 's', feature: 'f', amount: 1, meta: { x: 1, y: 2 } }),
    ).not.toBe(a);
  });
});

describe('failed-auth limiter', () => {
  it('the 11th attempt within a minute waits until the oldest failure leaves the window', () => {
    let now = 0;
    const limiter = new FailedAuthLimiter(10, 60_000, () => now);
    for (let i = 0; i < 10; i++) {
      expect(limiter.retryAfter('1.2.3.4')).toBe(0);
      limiter.fail('1.2.3.4');
      now += 1_000;
    }
    expect(limiter.retryAfter('1.2.3.4')).toBe(50);
    expect(limiter.retryAfter('5.6.7.8')).toBe(0);
    now = 60_001;
    expect(limiter.retryAfter('1.2.3.4')).toBe(0);
  });
});

describe('problem mapping', () => {
  it('status is always ERROR_CODES[code].http; internal text never leaves', () => {
    for (const code of Object.keys(ERROR_CODES) as (keyof typeof ERROR_CODES)[]) {
      const p = toProblem(new QuotaClockError(code, `secret detail ${code}`));
      expect(p.status).toBe(ERROR_CODES[code].http);
      expect(p.code).toBe(code);
    }
    expect(toProblem(new Error('SELECT * FROM api_keys')).detail).not.toContain('SELECT');
    expect(
      toProblem(new QuotaClockError('STORE_FAILURE', 'PostgreSQL error 42P01: x')).detail,
    ).not.toContain('42P01');
  });
  it('a connection failure is STORE_UNAVAILABLE, fastify body errors get their codes', () => {
    expect(
      classify(
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      ).code,
    ).toBe('STORE_UNAVAILABLE');
    expect(
      classify(Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE' })).code,
    ).toBe('PAYLOAD_TOO_LARGE');
    expect(
      classify(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' })).code,
    ).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(classify(new SyntaxError('Unexpected end of JSON input')).code).toBe('BAD_INPUT');
  });
});
