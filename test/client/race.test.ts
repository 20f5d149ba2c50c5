/**
 * The guarded consume, through both clients at once: 100 consumes from the
 * TypeScript client and 100 from the Python client, all for one subject with
 * 10 units left, against one live server. Exactly 10 are granted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuotaClockClient } from '../../src/client/index.js';
import { startLiveServer, type LiveServer } from './live-server.js';
import { pythonConsume, pythonMissing } from './python.js';

const skip = pythonMissing();

describe.skipIf(skip !== null)('race through the clients', () => {
  let server: LiveServer;
  beforeAll(async () => {
    server = await startLiveServer();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('grants exactly 10 of 200 concurrent consumes for a subject with 10 left', async () => {
    const subject = 'race-user';
    // A free subject (10 per month) that has already used 0: 10 left.
    const client = new QuotaClockClient({
      url: server.url,
      apiKey: server.apiKey,
      failMode: 'closed',
      retries: 3,
      // Generous: under CI's load a slow answer must not turn into a fail-mode answer.
      timeoutMs: 15_000,
    });
    const before = await client.check(subject, 'stock_reports');
    expect(before).toMatchObject({ remaining: 10 });

    const fromPython = pythonConsume({
      url: server.url,
      apiKey: server.apiKey,
      failMode: 'closed',
      retries: 3,
      timeout: 15,
      concurrency: 16,
      calls: Array.from({ length: 100 }, () => ({ subject, feature: 'stock_reports' })),
    });
    const fromTs = Promise.all(
      Array.from({ length: 100 }, () => client.consume(subject, 'stock_reports')),
    );
    const [py, ts] = await Promise.all([fromPython, fromTs]);

    expect(py).toHaveLength(100);
    expect(ts).toHaveLength(100);
    // Every call got a real answer: none fell back to the fail mode.
    expect([...py, ...ts].filter((r) => r.reason === 'unavailable')).toEqual([]);
    const granted = [...py, ...ts].filter((r) => r.granted === true);
    expect(granted).toHaveLength(10);
    const refused = [...py, ...ts].filter((r) => r.granted === false);
    expect(refused.every((r) => r.reason === 'quota_exceeded' && r.remaining === 0)).toBe(true);
    expect(new Set(granted.map((r) => r.used))).toEqual(new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));

    const status = await client.status(subject);
    expect(status.features.stock_reports).toMatchObject({ used: 10, remaining: 0 });
  });
});
