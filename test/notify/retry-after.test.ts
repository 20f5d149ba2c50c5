import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { Notifications } from '../../src/notify/dispatcher.js';
import { messageContext, testEvent } from '../../src/notify/messages.js';

/** A real webhook receiver: answers 429 with this Retry-After once, then 200; records when each request came. */
async function throttlingReceiver(retryAfter: string) {
  const at: number[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      at.push(Date.now());
      if (at.length === 1) {
        res.writeHead(429, { 'retry-after': retryAfter, 'content-type': 'text/plain' });
        res.end('slow down');
      } else {
        res.writeHead(200);
        res.end('ok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    at,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function deliver(retryAfter: string, retry: Record<string, number>) {
  const rx = await throttlingReceiver(retryAfter);
  close = rx.close;
  const cfg = parseConfig({
    notify: { retry: { attempts: 2, ...retry }, targets: [{ type: 'webhook' as const }] },
  });
  const n = new Notifications(cfg.notify, {
    env: { QUOTACLOCK_WEBHOOK_URL: rx.url, QUOTACLOCK_WEBHOOK_SECRET: 'whsec_test_secret_value' },
  });
  const results = await n.emit(testEvent(messageContext(cfg)), { all: true });
  return { results, at: rx.at };
}

describe('Retry-After', () => {
  it('is honoured beyond retry.maxDelayMs: a 429 asking for 1 s is retried after 1 s, not 0.3 s', async () => {
    const { results, at } = await deliver('1', { initialDelayMs: 10, maxDelayMs: 300 });
    expect(results.map((r) => [r.ok, r.attempts])).toEqual([[true, 2]]);
    expect(at).toHaveLength(2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(950);
  });

  it('is capped at retry.maxRetryAfterMs', async () => {
    const { results, at } = await deliver('30', {
      initialDelayMs: 10,
      maxDelayMs: 300,
      maxRetryAfterMs: 700,
    });
    expect(results.map((r) => r.ok)).toEqual([true]);
    const gap = at[1]! - at[0]!;
    expect(gap).toBeGreaterThanOrEqual(650);
    expect(gap).toBeLessThan(5000);
  });
});
