import { expect, it } from 'vitest';
import type { BackupRecord, QuotaStore } from '../../src/store/quota-store.js';
import { at, contract, exportAll, writers } from './engines.js';

const NOV = at('2026-11-10T12:00:00Z');

type EventRecord = Extract<BackupRecord, { type: 'event' }>;

/** The consume events of one subject, in the order their units were counted. */
async function consumeEvents(store: QuotaStore, subject: string): Promise<EventRecord[]> {
  return (await exportAll(store))
    .filter((r): r is EventRecord => r.type === 'event' && r.subject === subject)
    .filter((r) => r.kind === 'consume' && r.delta > 0)
    .sort((a, b) => a.usedAfter - b.usedAfter);
}

/**
 * One subject taking a crowd of consumes at once: the case where the
 * PostgreSQL engine grants several requests for the same counter row in one
 * statement. Every unit must be accounted to exactly one request.
 */
contract('one hot counter', ({ useStore }) => {
  const ctx = useStore();

  it('grants exactly the limit of 200 concurrent single-unit consumes, each its own count', async () => {
    const stores = await writers(ctx, 2);
    await ctx.qc.addSubject({ id: 'hot', plan: 'pro_plus' }, { now: NOV });
    await ctx.qc.setOverride('hot', 'stock_reports', 150, { now: NOV });
    // The counter row exists before the crowd, so the grants can go in batches.
    expect((await ctx.qc.consume('hot', 'stock_reports', 1, { now: NOV })).used).toBe(1);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        stores[i % stores.length]!.consume('hot', 'stock_reports', 1, {
          now: NOV,
          ...(i % 4 === 0 ? { key: `hot-${i}` } : {}),
        }),
      ),
    );
    const granted = results.filter((r) => r.granted);
    expect(granted).toHaveLength(149);
    expect(granted.map((r) => r.used).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 149 }, (_, i) => i + 2),
    );
    for (const r of results.filter((x) => !x.granted))
      expect(r).toMatchObject({ used: 150, remaining: 0, reason: 'quota_exceeded' });
    const events = await consumeEvents(ctx.store, 'hot');
    expect(events.map((e) => e.usedAfter)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
    expect((await ctx.qc.status('hot', { now: NOV })).features.stock_reports?.used).toBe(150);
    const violations = await ctx.store.verify(NOV);
    expect(violations.filter((v) => v.subject === 'hot')).toEqual([]);
  });

  it('tiles the counter with mixed amounts: no unit counted twice, none past the limit', async () => {
    const stores = await writers(ctx, 2);
    await ctx.qc.addSubject({ id: 'tiles', plan: 'pro_plus' }, { now: NOV });
    await ctx.qc.setOverride('tiles', 'stock_reports', 150, { now: NOV });
    await ctx.qc.consume('tiles', 'stock_reports', 1, { now: NOV });
    const amounts = Array.from({ length: 120 }, (_, i) => 1 + (i % 3));
    const results = await Promise.all(
      amounts.map((amount, i) =>
        stores[i % stores.length]!.consume('tiles', 'stock_reports', amount, { now: NOV }),
      ),
    );
    // Each grant owns the units (used - amount, used]; together they tile (1, total] with no gap or overlap.
    const spans = results
      .map((r, i) => ({ r, amount: amounts[i]! }))
      .filter((x) => x.r.granted)
      .map((x) => [x.r.used - x.amount, x.r.used] as const)
      .sort((a, b) => a[0] - b[0]);
    let edge = 1;
    for (const [from, to] of spans) {
      expect(from).toBe(edge);
      edge = to;
    }
    expect(edge).toBeLessThanOrEqual(150);
    // A denial saw a counter its amount did not fit on.
    results.forEach((r, i) => {
      if (!r.granted) expect(r.used + amounts[i]!).toBeGreaterThan(150);
    });
    const events = await consumeEvents(ctx.store, 'tiles');
    expect(events.at(-1)?.usedAfter).toBe(edge);
    expect(events.reduce((sum, e) => sum + e.delta, 0)).toBe(edge);
    expect((await ctx.qc.status('tiles', { now: NOV })).features.stock_reports?.used).toBe(edge);
    const violations = await ctx.store.verify(NOV);
    expect(violations.filter((v) => v.subject === 'tiles')).toEqual([]);
  });
});
