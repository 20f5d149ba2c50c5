import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import type { QuotaClockConfigInput } from '../../src/config/schema.js';
import { notifyObservers } from '../../src/notify/thresholds.js';
import { createQuotaClock } from '../../src/quotaclock.js';
import { capturingLogger, FAST_RETRY, startReceiver, tempDir, type Receiver } from './helpers.js';
import { join } from 'node:path';

describe('quota.threshold notices', () => {
  let rx: Receiver;
  const saved = { ...process.env };
  beforeEach(async () => {
    rx = await startReceiver();
    process.env.QUOTACLOCK_WEBHOOK_URL = `${rx.base}/hook`;
    process.env.QUOTACLOCK_WEBHOOK_SECRET = 'threshold-test-secret';
  });
  afterEach(async () => {
    process.env = { ...saved };
    await rx.close();
  });

  const open = (dir: string, thresholds?: number[]) => {
    const { logger, lines } = capturingLogger();
    const config = parseConfig({
      store: `sqlite:${join(dir, 'q.db')}?synchronous=normal`,
      notify: {
        retry: FAST_RETRY,
        targets: [{ type: 'webhook' }],
        ...(thresholds ? { thresholds } : {}),
      },
    } satisfies QuotaClockConfigInput);
    // Wired the way the CLI context, the cloud entries and serve wire it.
    const qc = createQuotaClock({
      config,
      observers: notifyObservers(config, logger),
      clock: () => Date.parse('2026-10-10T12:00:00Z'),
    });
    return { qc, lines };
  };
  const notices = () =>
    rx.requests.map((r) => JSON.parse(r.body)).filter((d) => d.event === 'quota.threshold');

  it('fires at 80% and 100% once per subject, feature, period and threshold, across processes', async () => {
    const dir = tempDir();
    const { qc } = open(dir);
    await qc.init();
    await qc.addSubject({ id: 'carol', plan: 'free' }); // 10 per month
    for (let i = 0; i < 7; i++) await qc.consume('carol', 'stock_reports');
    await qc.close();
    expect(notices()).toHaveLength(0);

    const second = open(dir).qc;
    const r8 = await second.consume('carol', 'stock_reports'); // 8 of 10: 80%
    expect(r8.used).toBe(8);
    // Refund and consume again: the counter crosses 80% a second time, but the notice was claimed.
    await second.consume('carol', 'stock_reports', 1, { key: 'k1' });
    await second.refund('carol', 'k1');
    await second.consume('carol', 'stock_reports', 1, { key: 'k2' }); // 9
    await second.consume('carol', 'stock_reports'); // 10: 100%
    const denied = await second.consume('carol', 'stock_reports');
    expect(denied.granted).toBe(false);
    await second.close(); // waits for the background deliveries

    const third = open(dir).qc; // another process: the dedup is durable
    await third.refund('carol', 'k2');
    await third.consume('carol', 'stock_reports'); // back to 10
    await third.close();

    const got = notices();
    expect(
      got.map((n) => [n.data.subject, n.data.threshold, n.data.used, n.data.limit, n.period]),
    ).toEqual([
      ['carol', 80, 8, 10, '2026-10'],
      ['carol', 100, 10, 10, '2026-10'],
    ]);
    expect(got[0].title).toBe(
      'quotaclock: carol passed 80% of its limit for stock_reports (8/10) in 2026-10',
    );
    expect(got[1].title).toBe(
      'quotaclock: carol reached its limit for stock_reports (10/10) in 2026-10',
    );
    expect(got[1].fields.Plan).toBe('free');
    expect(got[1].fields.Period).toMatch(
      /^2026-10 \(2026-10-01T00:00:00.000Z to 2026-11-01T00:00:00.000Z\)$/,
    );
  });

  it('a jump across both thresholds sends one notice (the higher) and claims both; a new period starts over', async () => {
    const dir = tempDir();
    const { qc } = open(dir);
    await qc.init();
    await qc.addSubject({ id: 'bob', plan: 'pro' }); // 45
    await qc.consume('bob', 'stock_reports', 45);
    await qc.consume('bob', 'stock_reports', 36, { now: Date.parse('2026-11-02T00:00:00Z') });
    await qc.close();
    expect(notices().map((n) => [n.data.threshold, n.period])).toEqual([
      [100, '2026-10'],
      [80, '2026-11'],
    ]);
  });

  it('configurable thresholds; unlimited plans never fire; nothing when no target wants the event', async () => {
    const dir = tempDir();
    const { qc } = open(dir, [50]);
    await qc.init();
    await qc.addSubject({ id: 'erin', plan: 'enterprise' });
    await qc.addSubject({ id: 'pat', plan: 'pro' });
    await qc.consume('erin', 'stock_reports', 1000);
    await qc.consume('pat', 'stock_reports', 22);
    await qc.consume('pat', 'stock_reports', 1); // 23 of 45 ≥ 50%
    await qc.close();
    expect(notices().map((n) => [n.data.subject, n.data.threshold, n.data.used])).toEqual([
      ['pat', 50, 23],
    ]);

    const quietConfig = parseConfig({
      store: `sqlite:${join(tempDir(), 'q.db')}`,
      notify: { targets: [{ type: 'webhook', events: ['reset.failed'] }] },
    });
    const quiet = createQuotaClock({
      config: quietConfig,
      observers: notifyObservers(quietConfig),
    });
    await quiet.init();
    await quiet.consume('zed', 'stock_reports', 10);
    await quiet.close();
    expect(notices()).toHaveLength(1);
  });

  it('a failing delivery is logged and counted, and never affects the consume', async () => {
    rx.respond = [500, 500, 500];
    const dir = tempDir();
    const { qc, lines } = open(dir);
    await qc.init();
    const r = await qc.consume('dan', 'stock_reports', 10);
    expect(r).toMatchObject({ granted: true, used: 10 });
    await qc.close();
    expect(
      lines.some(
        (l) =>
          l.includes('"level":"error"') &&
          l.includes('notification to webhook failed after 3 attempt'),
      ),
    ).toBe(true);
    const reopened = open(dir).qc;
    const metrics = await (await reopened.store()).jobMetrics!();
    await reopened.close();
    expect(metrics).toContainEqual(
      expect.objectContaining({
        name: 'quotaclock_notifier_failures_total',
        labels: { kind: 'webhook', target: 'webhook' },
        value: 1,
      }),
    );
  });
});
