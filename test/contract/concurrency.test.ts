import { expect, it } from 'vitest';
import { at, contract, exportAll, writers } from './engines.js';

const NOV = at('2026-11-10T12:00:00Z');

contract('concurrency', ({ useStore }) => {
  const ctx = useStore();

  it('grants exactly 10 of 20 concurrent consumes on a limit of 10', async () => {
    const stores = await writers(ctx, 4);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        stores[i % stores.length]!.consume('crowd', 'stock_reports', 1, { now: NOV }),
      ),
    );
    expect(results.filter((r) => r.granted)).toHaveLength(10);
    const denied = results.filter((r) => !r.granted);
    expect(denied).toHaveLength(10);
    // A denial never reports room it did not have.
    for (const r of denied)
      expect(r).toMatchObject({ used: 10, remaining: 0, reason: 'quota_exceeded' });
    expect(
      results
        .filter((r) => r.granted)
        .map((r) => r.used)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect((await ctx.qc.status('crowd', { now: NOV })).features.stock_reports?.used).toBe(10);
  });

  it('keeps every invariant under mixed concurrent writers', async () => {
    const stores = await writers(ctx, 4);
    const { qc } = ctx;
    await qc.addSubject({ id: 'mixed', plan: 'pro' }, { now: NOV });
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < 120; i += 1) {
      const store = stores[i % stores.length]!;
      const key = `m-${i % 40}`;
      work.push(store.consume('mixed', 'stock_reports', 1 + (i % 3), { now: NOV, key }));
      if (i % 9 === 0) work.push(store.refund('mixed', `m-${(i + 7) % 40}`, NOV).catch(() => null));
      if (i % 25 === 0) work.push(store.resetSubject('mixed', NOV));
      if (i % 30 === 0) work.push(store.setPlan('mixed', i % 60 === 0 ? 'free' : 'pro', NOV));
    }
    await Promise.all(work);
    const violations = await ctx.store.verify(NOV);
    expect(
      violations.filter((v) => v.kind === 'counter_mismatch' || v.kind === 'over_limit'),
    ).toEqual([]);
    const used = (await qc.status('mixed', { now: NOV })).features.stock_reports?.used;
    expect(used).toBeGreaterThanOrEqual(0);
  });

  it('creates a subject once when many first consumes race', async () => {
    const stores = await writers(ctx, 4);
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        stores[i % stores.length]!.consume('first-sight', 'stock_reports', 1, { now: NOV }),
      ),
    );
    expect(results.filter((r) => r.granted)).toHaveLength(10);
    expect(await ctx.store.getSubject('first-sight')).toMatchObject({ plan: 'free' });
    const created = (await exportAll(ctx.store)).filter(
      (r) =>
        r.type === 'audit' && r.action === 'subject.auto_create' && r.subject === 'first-sight',
    );
    expect(created).toHaveLength(1);
  });

  it('replays one key across writers and counts it once', async () => {
    const stores = await writers(ctx, 4);
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        stores[i % stores.length]!.consume('keyed', 'stock_reports', 4, { now: NOV, key: 'once' }),
      ),
    );
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect((await ctx.qc.status('keyed', { now: NOV })).features.stock_reports?.used).toBe(4);
  });

  it('grants exactly each limit when many subjects consume at once', async () => {
    const stores = await writers(ctx, 3);
    const { qc } = ctx;
    const ids = Array.from({ length: 30 }, (_, i) => `many-${i}`);
    // A first unit each, so every counter row exists before the crowd arrives.
    for (const id of ids)
      await qc.consume(id, 'stock_reports', 1, { now: NOV, key: `${id}-first` });
    const work = ids.flatMap((id, i) =>
      Array.from({ length: 14 }, (_, j) =>
        stores[(i + j) % stores.length]!.consume(id, 'stock_reports', 1, {
          now: NOV,
          ...(j % 3 === 0 ? { key: `${id}-${j}` } : {}),
        }),
      ),
    );
    // Replays of keys already used, mixed into the crowd.
    work.push(
      ...ids
        .slice(0, 5)
        .map((id) => ctx.store.consume(id, 'stock_reports', 1, { now: NOV, key: `${id}-first` })),
    );
    const results = await Promise.all(work);
    const replays = results.slice(-5);
    for (const r of replays) expect(r).toMatchObject({ granted: true, used: 1, replayed: true });
    for (const id of ids) {
      expect((await qc.status(id, { now: NOV })).features.stock_reports?.used).toBe(10);
    }
    expect(results.slice(0, -5).filter((r) => r.granted)).toHaveLength(30 * 9);
    const violations = await ctx.store.verify(NOV);
    expect(
      violations.filter((v) => v.kind === 'counter_mismatch' || v.kind === 'over_limit'),
    ).toEqual([]);
  });
});
