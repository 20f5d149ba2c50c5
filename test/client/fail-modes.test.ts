/**
 * What the client answers when the service cannot be reached, and which
 * failures it retries. The service here is a real HTTP server on loopback
 * scripted to be down, stall or refuse; the live-server tests cover the
 * service's real answers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  QuotaClockApiError,
  QuotaClockClient,
  QuotaClockUnavailableError,
} from '../../src/client/index.js';
import { freePort } from './live-server.js';
import { problem, startScriptedServer, type ScriptedServer } from './scripted-server.js';

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function scripted(...args: Parameters<typeof startScriptedServer>) {
  const server = await startScriptedServer(...args);
  servers.push(server);
  return server;
}

const client = (url: string, failMode: 'closed' | 'open', extra = {}) =>
  new QuotaClockClient({
    url,
    apiKey: 'qck_test',
    failMode,
    retries: 2,
    retryBaseMs: 10,
    ...extra,
  });

describe('the service is down (connection refused)', () => {
  it('closed refuses consume and check; open grants them; nothing else has a default', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const closed = client(url, 'closed');
    const open = client(url, 'open');

    const refused = await closed.consume('u1', 'stock_reports');
    expect(refused).toEqual({
      granted: false,
      reason: 'unavailable',
      used: null,
      limit: null,
      remaining: null,
      period: null,
      timeZone: null,
      secondsLeft: null,
      subject: 'u1',
      feature: 'stock_reports',
      key: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    const letThrough = await open.consume('u1', 'stock_reports', 1, { key: 'report-7' });
    expect(letThrough).toMatchObject({
      granted: true,
      reason: 'unavailable',
      key: 'report-7',
      limit: null,
    });

    expect(await closed.check('u1', 'stock_reports')).toMatchObject({
      allowed: false,
      reason: 'unavailable',
    });
    expect(await open.check('u1', 'stock_reports')).toMatchObject({
      allowed: true,
      reason: 'unavailable',
    });

    for (const call of [
      () => open.refund('u1', 'k'),
      () => open.status('u1'),
      () => open.history('u1'),
    ]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QuotaClockUnavailableError);
      expect(error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', attempts: 3 });
    }

    const { results } = await closed.batch([
      { op: 'consume', subject: 'u1', feature: 'stock_reports' },
      { op: 'check', subject: 'u1', feature: 'stock_reports' },
      { op: 'refund', subject: 'u1', key: 'k' },
    ]);
    expect(results[0]).toMatchObject({ granted: false, reason: 'unavailable' });
    expect(results[1]).toMatchObject({ allowed: false, reason: 'unavailable' });
    expect(results[2]).toMatchObject({ status: 503, code: 'SERVICE_UNAVAILABLE' });
  });
});

describe('retries', () => {
  it('resends a dropped consume with the same generated key and body, retries+1 times', async () => {
    const server = await scripted((_n, req) => req.socket.destroy());
    const result = await client(server.url, 'closed').consume('u1', 'stock_reports', 2, {
      meta: { ticker: 'ACME' },
    });
    expect(result).toMatchObject({ granted: false, reason: 'unavailable' });
    expect(server.seen).toHaveLength(3);
    const keys = new Set(server.seen.map((r) => r.idempotencyKey));
    // Sent as the draft's sf-string: the quoted key.
    expect(keys).toEqual(new Set([`"${result.key}"`]));
    expect(new Set(server.seen.map((r) => r.body)).size).toBe(1);
    expect(JSON.parse(server.seen[0]!.body)).toEqual({
      subject: 'u1',
      feature: 'stock_reports',
      amount: 2,
      key: result.key,
      meta: { ticker: 'ACME' },
    });
  });

  it('times out a stalled answer per attempt', async () => {
    const server = await scripted(() => undefined);
    const started = Date.now();
    const result = await client(server.url, 'open', { timeoutMs: 150, retries: 1 }).consume(
      'u1',
      'f',
    );
    expect(result).toMatchObject({ granted: true, reason: 'unavailable' });
    expect(server.seen).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('waits for Retry-After before retrying a 503', async () => {
    const server = await scripted((n, _req, res) => {
      if (n === 1) return problem(res, 503, 'STORE_UNAVAILABLE', { 'retry-after': '1' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ allowed: true, limit: 10, used: 0, remaining: 10, period: null }));
    });
    const result = await client(server.url, 'closed').check('u1', 'stock_reports');
    expect(result).toMatchObject({
      allowed: true,
      remaining: 10,
      subject: 'u1',
      feature: 'stock_reports',
    });
    expect(server.seen).toHaveLength(2);
    expect(server.seen[1]!.at - server.seen[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('gives up at once when Retry-After is longer than maxRetryDelayMs', async () => {
    const server = await scripted((_n, _req, res) =>
      problem(res, 503, 'STORE_UNAVAILABLE', { 'retry-after': '60' }),
    );
    const started = Date.now();
    const error = await client(server.url, 'closed', { maxRetryDelayMs: 2000 })
      .status('u1')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaClockUnavailableError);
    expect(error).toMatchObject({ attempts: 1, lastStatus: 503 });
    expect(server.seen).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('retries a key still in flight (409) and a non-JSON 502 from a proxy', async () => {
    const server = await scripted((n, _req, res) => {
      if (n === 1) return problem(res, 409, 'IDEMPOTENCY_KEY_IN_FLIGHT', { 'retry-after': '0' });
      if (n === 2) {
        res.writeHead(502, { 'content-type': 'text/html' });
        return res.end('<html>bad gateway</html>');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          granted: true,
          used: 1,
          limit: 10,
          remaining: 9,
          period: null,
          replayed: true,
        }),
      );
    });
    const result = await client(server.url, 'closed').consume('u1', 'f', 1, { key: 'k1' });
    expect(result).toMatchObject({ granted: true, used: 1, replayed: true, key: 'k1' });
    expect(server.seen.map((r) => r.idempotencyKey)).toEqual(['"k1"', '"k1"', '"k1"']);
  });

  it('does not retry a 4xx: it throws a typed error carrying the problem code', async () => {
    const server = await scripted((_n, _req, res) => problem(res, 400, 'INVALID_AMOUNT'));
    const error = await client(server.url, 'open')
      .consume('u1', 'f', 0)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QuotaClockApiError);
    expect(error).toMatchObject({ code: 'INVALID_AMOUNT', status: 400, where: 'amount' });
    expect(server.seen).toHaveLength(1);
  });
});
