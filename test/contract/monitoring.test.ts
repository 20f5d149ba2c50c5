import { expect, it } from 'vitest';
import type { SubjectUsage } from '../../src/store/quota-store.js';
import { at, contract } from './engines.js';

const NOV = at('2026-11-10T12:00:00Z');
const HOUR = 3_600_000;

async function collect(it: AsyncIterable<SubjectUsage>): Promise<SubjectUsage[]> {
  const out: SubjectUsage[] = [];
  for await (const u of it) out.push(u);
  return out;
}

/** The monitoring methods behind notifications, `report` and `metrics`: every engine answers alike. */
contract('notifications, reports and metrics', ({ useStore }) => {
  const ctx = useStore();
  it('claims a threshold notice once per subject, feature, period and threshold', async () => {
    const claim = ctx.store.claimThresholdNotice.bind(ctx.store);
    const notice = {
      subject: 'n-1',
      feature: 'stock_reports',
      periodStartMs: at('2026-11-01T00:00:00Z'),
      periodEndMs: at('2026-12-01T00:00:00Z'),
      threshold: 80,
    };
    const results = await Promise.all([1, 2, 3].map(() => claim(notice, NOV)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await claim(notice, NOV + 1)).toBe(false);
    expect(await claim({ ...notice, threshold: 100 }, NOV)).toBe(true);
    expect(await claim({ ...notice, periodStartMs: notice.periodEndMs }, NOV)).toBe(true);
  });

  it('keeps job metrics: gauges set, counters add, labels in canonical order', async () => {
    const record = ctx.store.recordJobMetrics.bind(ctx.store);
    const read = ctx.store.jobMetrics.bind(ctx.store);
    await record(
      [
        { name: 'reset_last_success', value: 5, mode: 'set' },
        {
          name: 'notify_failures',
          labels: { target: 'slack', kind: 'webhook' },
          value: 1,
          mode: 'add',
        },
      ],
      NOV,
    );
    await record(
      [
        { name: 'reset_last_success', value: 7, mode: 'set' },
        {
          name: 'notify_failures',
          labels: { kind: 'webhook', target: 'slack' },
          value: 2,
          mode: 'add',
        },
      ],
      NOV + 1,
    );
    expect(await read()).toEqual([
      {
        name: 'notify_failures',
        labels: { kind: 'webhook', target: 'slack' },
        value: 3,
        updatedMs: NOV + 1,
      },
      { name: 'reset_last_success', labels: {}, value: 7, updatedMs: NOV + 1 },
    ]);
  });

  it('reports usage by bucket, by period (subjects without usage included) and by window', async () => {
    const buckets = ctx.store.usageBuckets.bind(ctx.store);
    const period = ctx.store.periodUsage.bind(ctx.store);
    const window = ctx.store.windowUsage.bind(ctx.store);
    const { qc } = ctx;
    await qc.addSubject({ id: 'r-idle' }, { now: at('2026-11-01T06:00:00Z') });
    await qc.addSubject({ id: 'r-pro', plan: 'pro' }, { now: at('2026-11-01T06:00:00Z') });
    await qc.consume('r-pro', 'stock_reports', 3, { now: NOV, key: 'r1' });
    await qc.consume('r-pro', 'exports', 1, { now: NOV + HOUR });
    await qc.consume('r-pro', 'exports', 20, { now: NOV + HOUR });
    await qc.refund('r-pro', 'r1', { now: NOV + 2 * HOUR });
    expect(await buckets(NOV, NOV + 3 * HOUR, HOUR)).toEqual([
      { startMs: NOV, feature: 'stock_reports', used: 3, denied: 0 },
      { startMs: NOV + HOUR, feature: 'exports', used: 1, denied: 1 },
      { startMs: NOV + 2 * HOUR, feature: 'stock_reports', used: -3, denied: 0 },
    ]);
    const nov = (await collect(period('2026-11', at('2026-12-01T00:00:00Z')))).filter((u) =>
      u.subject.startsWith('r-'),
    );
    expect(nov).toEqual([
      { subject: 'r-idle', plan: 'free', limits: { exports: 2, stock_reports: 10 }, used: {} },
      {
        subject: 'r-pro',
        plan: 'pro',
        limits: { exports: 10, stock_reports: 45 },
        used: { exports: 1, stock_reports: 0 },
      },
    ]);
    expect(await collect(window(NOV, NOV + HOUR + 1))).toEqual([
      {
        subject: 'r-pro',
        plan: 'pro',
        limits: { exports: 10, stock_reports: 45 },
        used: { exports: 1, stock_reports: 3 },
      },
    ]);
  });

  it('counts consumes for good, even after retention prunes their events', async () => {
    const totals = ctx.store.consumeTotals.bind(ctx.store);
    const { qc, store } = ctx;
    const before = await totals();
    await qc.consume('t-1', 'stock_reports', 4, { now: at('2026-08-10T00:00:00Z') });
    await qc.consume('t-1', 'stock_reports', 40, { now: at('2026-08-10T00:00:00Z') });
    const after = await totals();
    expect(after).toEqual({
      granted: before.granted + 1,
      denied: before.denied + 1,
      unitsGranted: before.unitsGranted + 4,
    });
    for (const key of ['2026-08', '2026-09', '2026-10']) {
      let cursor: string | null = null;
      do {
        cursor = (
          await store.closeBatch({
            key,
            nowMs: at('2026-11-20T00:00:00Z'),
            cursor,
            batchSize: 50,
            write: true,
          })
        ).cursor;
      } while (cursor !== null);
    }
    const pruned = await store.prune(at('2026-10-01T00:00:00Z'));
    expect(pruned.events).toBeGreaterThanOrEqual(2);
    expect(await totals()).toEqual(after);
    // The archive counters are internal: they are not listed as job metrics.
    const metrics = await store.jobMetrics();
    expect(metrics.map((m) => m.name).filter((n) => n.startsWith('consume_pruned'))).toEqual([]);
  });
});
