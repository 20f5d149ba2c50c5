/** The TypeScript client against a live `quotaclock serve`: every method and the service's error codes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  QuotaClockApiError,
  QuotaClockClient,
  toRateLimitHeaders,
  type ConsumeResult,
} from '../../src/client/index.js';
import { startLiveServer, type LiveServer } from './live-server.js';

describe('QuotaClockClient against quotaclock serve', () => {
  let server: LiveServer;
  let quota: QuotaClockClient;
  beforeAll(async () => {
    server = await startLiveServer();
    quota = new QuotaClockClient({ url: server.url, apiKey: server.apiKey, failMode: 'closed' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const apiError = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail('expected a QuotaClockApiError'),
      (e: unknown) => {
        expect(e).toBeInstanceOf(QuotaClockApiError);
        return e as QuotaClockApiError;
      },
    );

  it('consumes, replays a retry with its key, and refunds once', async () => {
    const first = await quota.consume('ts-live', 'stock_reports', 3, {
      key: 'r-1',
      meta: { ticker: 'ACME' },
    });
    expect(first).toMatchObject({
      granted: true,
      used: 3,
      limit: 10,
      remaining: 7,
      subject: 'ts-live',
      feature: 'stock_reports',
      key: 'r-1',
      period: { key: expect.any(String), start: expect.any(String), end: expect.any(String) },
      timeZone: 'UTC',
      secondsLeft: expect.any(Number),
    });
    // Counted by the service a moment before this line: at least what is left now, rounded down.
    const left = (Date.parse(first.period!.end) - Date.now()) / 1000;
    expect(first.secondsLeft).toBeGreaterThanOrEqual(Math.floor(left));
    expect(first.secondsLeft).toBeLessThanOrEqual(Math.ceil(left) + 60);
    const again = await quota.consume('ts-live', 'stock_reports', 3, {
      key: 'r-1',
      meta: { ticker: 'ACME' },
    });
    // A replay is the first answer, its secondsLeft included.
    expect(again).toEqual({ ...first, replayed: true });

    expect(await quota.refund('ts-live', 'r-1')).toMatchObject({
      refunded: true,
      amount: 3,
      used: 0,
      timeZone: 'UTC',
      secondsLeft: expect.any(Number),
    });
    expect(await quota.refund('ts-live', 'r-1')).toMatchObject({
      refunded: false,
      alreadyRefunded: true,
    });
    expect(await apiError(quota.refund('ts-live', 'nope'))).toMatchObject({
      code: 'REFUND_KEY_NOT_FOUND',
      status: 404,
    });
  });

  it('keeps keys with quotes, backslashes and non-ASCII characters exact', async () => {
    for (const key of ['say "hi" \\ bye', 'rapport-été-№1']) {
      const first = await quota.consume('ts-odd-keys', 'stock_reports', 1, { key });
      expect(first).toMatchObject({ granted: true, key });
      expect(await quota.consume('ts-odd-keys', 'stock_reports', 1, { key })).toMatchObject({
        replayed: true,
        used: first.used,
      });
      expect(await quota.refund('ts-odd-keys', key)).toMatchObject({ refunded: true });
    }
  });

  it('refuses as a result, checks without writing, and reports status and history', async () => {
    expect((await quota.consume('ts-full', 'stock_reports', 10)).granted).toBe(true);
    const refused = await quota.consume('ts-full', 'stock_reports');
    expect(refused).toMatchObject({
      granted: false,
      reason: 'quota_exceeded',
      remaining: 0,
      used: 10,
    });
    expect(await quota.check('ts-full', 'stock_reports')).toMatchObject({
      allowed: false,
      used: 10,
      subject: 'ts-full',
      feature: 'stock_reports',
      timeZone: 'UTC',
      secondsLeft: expect.any(Number),
    });
    const status = await quota.status('ts-full');
    expect(status).toMatchObject({
      subject: 'ts-full',
      plan: 'free',
      suspended: false,
      timeZone: 'UTC',
      secondsLeft: expect.any(Number),
    });
    expect(status.features.stock_reports).toEqual({
      limit: 10,
      used: 10,
      remaining: 0,
      unlimited: false,
    });
    const history = await quota.history('ts-full', { limit: 1 });
    expect(history).toHaveLength(1);
    expect(history[0]!.features.stock_reports).toMatchObject({ used: 10 });
    expect(await apiError(quota.status('ts-nobody'))).toMatchObject({
      code: 'SUBJECT_NOT_FOUND',
      status: 404,
    });
  });

  it('answers a batch in order, with a problem for the bad item and a key for each consume', async () => {
    const { results } = await quota.batch([
      { op: 'consume', subject: 'ts-batch', feature: 'stock_reports', amount: 2 },
      { op: 'check', subject: 'ts-batch', feature: 'stock_reports', amount: 9 },
      { op: 'consume', subject: 'ts-batch', feature: 'stock_reports', amount: 0 },
      { op: 'refund', subject: 'ts-batch', key: 'missing' },
    ]);
    expect(results).toHaveLength(4);
    expect(results[0]).toMatchObject({
      granted: true,
      used: 2,
      key: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(results[1]).toMatchObject({ allowed: false, subject: 'ts-batch' });
    expect(results[2]).toMatchObject({ status: 400, code: 'INVALID_AMOUNT' });
    expect(results[3]).toMatchObject({ status: 404, code: 'REFUND_KEY_NOT_FOUND' });
    const again = await quota.refund('ts-batch', (results[0] as ConsumeResult).key);
    expect(again).toMatchObject({ refunded: true, used: 0 });
  });

  it('maps the service problems to typed errors', async () => {
    expect(await apiError(quota.consume('ts-bad', 'stock_reports', 1.5))).toMatchObject({
      code: 'INVALID_AMOUNT',
      status: 400,
      where: 'amount',
    });
    expect(await apiError(quota.consume('ts-bad', 'no_such_feature'))).toMatchObject({
      code: 'UNKNOWN_FEATURE',
    });
    await quota.consume('ts-bad', 'stock_reports', 1, { key: 'same' });
    expect(
      await apiError(quota.consume('ts-bad', 'stock_reports', 2, { key: 'same' })),
    ).toMatchObject({
      code: 'IDEMPOTENCY_KEY_REUSED',
      status: 422,
    });
    const stranger = new QuotaClockClient({
      url: server.url,
      apiKey: 'qck_wrong',
      failMode: 'open',
    });
    expect(await apiError(stranger.check('ts-bad', 'stock_reports'))).toMatchObject({
      code: 'UNAUTHENTICATED',
      status: 401,
    });
  });

  it("builds the same rate-limit headers as the service's", async () => {
    const response = await fetch(`${server.url}/v1/consume`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'ts-headers', feature: 'stock_reports' }),
    });
    const served = await response.json();
    const ours = toRateLimitHeaders(served) as Record<string, string>;
    expect(ours['RateLimit-Policy']).toBe(response.headers.get('ratelimit-policy'));
    // t is the answer's secondsLeft, in the body and in both headers.
    expect(ours.RateLimit).toBe(response.headers.get('ratelimit'));
    expect(response.headers.get('ratelimit')).toMatch(new RegExp(`;t=${served.secondsLeft}$`));
    expect(served.timeZone).toBe('UTC');
  });
});
