/**
 * Retry safety: a real proxy between each client and a live server drops
 * every other answer after the server has processed the request. Both
 * clients retry with the key they made up, so each logical consume counts
 * exactly once.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QuotaClockClient } from '../../src/client/index.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { startLiveServer, type LiveServer } from './live-server.js';
import { pythonConsume, pythonMissing } from './python.js';

const CALLS = 12;
const skipPython = pythonMissing();

describe('retry safety through a proxy that drops every other answer', () => {
  let server: LiveServer;
  let proxy: FaultProxy | undefined;
  beforeAll(async () => {
    server = await startLiveServer();
    // Room for every call, so a double count would show as used > CALLS rather than as a refusal.
    for (const subject of ['ts-retry', 'py-retry']) {
      const added = await server.cli(['users', 'add', subject, '--plan', 'pro']);
      expect(added.code, added.stderr).toBe(0);
    }
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });
  afterAll(async () => {
    await server?.stop();
  });

  const direct = () =>
    new QuotaClockClient({ url: server.url, apiKey: server.apiKey, failMode: 'closed' });

  it('the TypeScript client counts each consume once', async () => {
    proxy = await startFaultProxy(server.url, { dropEveryOther: true });
    const client = new QuotaClockClient({
      url: proxy.url,
      apiKey: server.apiKey,
      failMode: 'closed',
      retries: 2,
      retryBaseMs: 10,
    });
    const results = [];
    for (let i = 0; i < CALLS; i++) results.push(await client.consume('ts-retry', 'stock_reports'));

    // Each first attempt was processed and its answer dropped; the retry got the replay.
    expect(proxy.dropped).toBe(CALLS);
    expect(proxy.forwarded).toBe(2 * CALLS);
    expect(results.map((r) => [r.granted, r.used, 'replayed' in r && r.replayed])).toEqual(
      Array.from({ length: CALLS }, (_, i) => [true, i + 1, true]),
    );
    const status = await direct().status('ts-retry');
    expect(status.features.stock_reports).toMatchObject({ used: CALLS, limit: 45 });
  });

  it.skipIf(skipPython !== null)('the Python client counts each consume once', async () => {
    proxy = await startFaultProxy(server.url, { dropEveryOther: true });
    const results = await pythonConsume({
      url: proxy.url,
      apiKey: server.apiKey,
      failMode: 'closed',
      retries: 2,
      concurrency: 1,
      calls: Array.from({ length: CALLS }, () => ({
        subject: 'py-retry',
        feature: 'stock_reports',
      })),
    });

    expect(proxy.dropped).toBe(CALLS);
    expect(proxy.forwarded).toBe(2 * CALLS);
    expect(results.map((r) => [r.granted, r.used, r.replayed])).toEqual(
      Array.from({ length: CALLS }, (_, i) => [true, i + 1, true]),
    );
    const status = await direct().status('py-retry');
    expect(status.features.stock_reports).toMatchObject({ used: CALLS, limit: 45 });
  });

  it('a batch of consumes without keys counts each item once', async () => {
    proxy = await startFaultProxy(server.url, { dropEveryOther: true });
    const client = new QuotaClockClient({
      url: proxy.url,
      apiKey: server.apiKey,
      failMode: 'closed',
      retryBaseMs: 10,
    });
    const items = Array.from({ length: 5 }, () => ({
      op: 'consume' as const,
      subject: 'ts-batch-retry',
      feature: 'stock_reports',
    }));
    const { results } = await client.batch(items);
    expect(proxy.dropped).toBe(1);
    expect(
      results.map((r) => ['granted' in r && r.granted, 'replayed' in r && r.replayed]),
    ).toEqual(Array.from({ length: 5 }, () => [true, true]));
    const status = await direct().status('ts-batch-retry');
    expect(status.features.stock_reports).toMatchObject({ used: 5 });
  });

  it('a 4xx through the proxy is sent once and not retried', async () => {
    proxy = await startFaultProxy(server.url, { dropEveryOther: false });
    const client = new QuotaClockClient({
      url: proxy.url,
      apiKey: server.apiKey,
      failMode: 'open',
    });
    const error = await client.consume('ts-retry', 'stock_reports', 0).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'INVALID_AMOUNT', status: 400, where: 'amount' });
    const stranger = new QuotaClockClient({
      url: proxy.url,
      apiKey: `qck_${'0'.repeat(43)}`,
      failMode: 'open',
    });
    await expect(stranger.status('ts-retry')).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
      status: 401,
    });
    expect(proxy.forwarded).toBe(2);
  });
});
