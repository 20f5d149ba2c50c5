import { expect, it } from 'vitest';
import { at, contract } from './engines.js';

const NOV = at('2026-11-10T12:00:00Z');
const LAST_NOV_MS = at('2026-12-01T00:00:00Z') - 1;
const FIRST_DEC_MS = at('2026-12-01T00:00:00Z');

contract('periods, refunds and manual resets', ({ useStore }) => {
  const ctx = useStore();

  it('rolls over at the boundary with no job: the first consume after it sees a fresh period', async () => {
    const { qc } = ctx;
    await qc.consume('roll', 'stock_reports', 10, { now: NOV });
    expect(await qc.consume('roll', 'stock_reports', 1, { now: LAST_NOV_MS })).toMatchObject({
      granted: false,
      used: 10,
      period: { key: '2026-11' },
    });
    const dec = await qc.consume('roll', 'stock_reports', 1, { now: FIRST_DEC_MS });
    expect(dec).toEqual({
      granted: true,
      used: 1,
      limit: 10,
      remaining: 9,
      period: {
        key: '2026-12',
        start: '2026-12-01T00:00:00.000Z',
        end: '2027-01-01T00:00:00.000Z',
      },
      timeZone: 'UTC',
      secondsLeft: 31 * 24 * 3600,
    });
    expect(await ctx.store.getRun('2026-11')).toBeNull();
    // November's usage is untouched and still visible.
    const h = await qc.history('roll');
    expect(h.map((e) => [e.key, e.features.stock_reports?.used, e.closed])).toEqual([
      ['2026-12', 1, false],
      ['2026-11', 10, false],
    ]);
  });

  it("rolls over at the subject's own local midnight", async () => {
    const { qc } = ctx;
    await qc.addSubject({ id: 'ny', timeZone: 'America/New_York' }, { now: NOV });
    await qc.consume('ny', 'stock_reports', 10, { now: NOV });
    // 2026-12-01T04:59Z is still November in New York.
    expect(
      await qc.consume('ny', 'stock_reports', 1, { now: at('2026-12-01T04:59:59.999Z') }),
    ).toMatchObject({
      granted: false,
      period: { key: '2026-11' },
      timeZone: 'America/New_York',
      // One millisecond left, rounded up to a whole second.
      secondsLeft: 1,
    });
    expect(
      await qc.consume('ny', 'stock_reports', 1, { now: at('2026-12-01T05:00:00Z') }),
    ).toMatchObject({
      granted: true,
      used: 1,
      period: { key: '2026-12', start: '2026-12-01T05:00:00.000Z' },
    });
    expect((await qc.status('ny', { now: at('2026-12-02T00:00:00Z') })).timeZone).toBe(
      'America/New_York',
    );
  });

  it('every answer carries the zone and the whole seconds left, rounded up', async () => {
    const { qc } = ctx;
    await qc.addSubject({ id: 'zone', timeZone: 'Asia/Tokyo' }, { now: NOV });
    // November in Tokyo ends at 2026-11-30T15:00Z; 2.5 s before it, 3 seconds are left.
    const now = at('2026-11-30T14:59:57.500Z');
    const clock = { timeZone: 'Asia/Tokyo', secondsLeft: 3 };
    expect(await qc.consume('zone', 'stock_reports', 1, { now, key: 'z1' })).toMatchObject(clock);
    expect(await qc.check('zone', 'stock_reports', 1, { now })).toMatchObject(clock);
    expect(await qc.status('zone', { now })).toMatchObject(clock);
    expect(await qc.refund('zone', 'z1', { now })).toMatchObject(clock);
    const [batched] = await qc.consumeMany([{ subject: 'zone', feature: 'stock_reports' }], {
      now,
    });
    expect(batched).toMatchObject({ ok: true, result: clock });
    // A subject without a zone of its own gets the period rule's.
    expect(await qc.consume('zone-default', 'exports', 1, { now })).toMatchObject({
      timeZone: 'UTC',
      secondsLeft: 9 * 3600 + 3,
    });
    // A subject a check would create reads as a new one, with the same fields.
    expect(await qc.check('zone-nobody', 'exports', 1, { now })).toMatchObject({
      timeZone: 'UTC',
      secondsLeft: 9 * 3600 + 3,
    });
  });

  it('refunds a key in the period where it was consumed, once', async () => {
    const { qc } = ctx;
    await qc.consume('refund', 'stock_reports', 4, { now: LAST_NOV_MS, key: 'gen-1' });
    await qc.consume('refund', 'stock_reports', 2, { now: FIRST_DEC_MS });
    const r = await qc.refund('refund', 'gen-1', { now: FIRST_DEC_MS + 1000 });
    expect(r).toEqual({
      refunded: true,
      amount: 4,
      used: 0,
      period: {
        key: '2026-11',
        start: '2026-11-01T00:00:00.000Z',
        end: '2026-12-01T00:00:00.000Z',
      },
      // The refund answers about November, which has ended.
      timeZone: 'UTC',
      secondsLeft: 0,
    });
    expect((await qc.status('refund', { now: FIRST_DEC_MS })).features.stock_reports?.used).toBe(2);
    expect(await qc.refund('refund', 'gen-1', { now: FIRST_DEC_MS + 2000 })).toMatchObject({
      refunded: false,
      amount: 0,
      alreadyRefunded: true,
    });
    await expect(qc.refund('refund', 'no-such-key', { now: FIRST_DEC_MS })).rejects.toMatchObject({
      code: 'REFUND_KEY_NOT_FOUND',
    });
    await expect(qc.refund('nobody', 'gen-1', { now: FIRST_DEC_MS })).rejects.toMatchObject({
      code: 'SUBJECT_NOT_FOUND',
    });
  });

  it('refunds nothing for a denied consume', async () => {
    const { qc } = ctx;
    await qc.consume('refund-denied', 'stock_reports', 10, { now: NOV });
    await qc.consume('refund-denied', 'stock_reports', 1, { now: NOV, key: 'denied' });
    expect(await qc.refund('refund-denied', 'denied', { now: NOV })).toMatchObject({
      refunded: false,
      amount: 0,
      used: 10,
    });
  });

  it('refunds concurrently only once', async () => {
    const { qc } = ctx;
    await qc.consume('refund-race', 'stock_reports', 5, { now: NOV, key: 'k' });
    const results = await Promise.all(
      Array.from({ length: 8 }, () => qc.refund('refund-race', 'k', { now: NOV })),
    );
    expect(results.filter((r) => r.refunded)).toHaveLength(1);
    expect((await qc.status('refund-race', { now: NOV })).features.stock_reports?.used).toBe(0);
  });

  it('resets a subject by hand, records it, and keeps counters equal to the sum of events', async () => {
    const { qc, store } = ctx;
    await qc.consume('manual', 'stock_reports', 5, { now: NOV, key: 'before-reset' });
    await qc.consume('manual', 'exports', 1, { now: NOV });
    const dry = await qc.resetSubject('manual', { now: NOV, dryRun: true });
    expect(dry.cleared).toEqual({ exports: 1, stock_reports: 5 });
    expect((await qc.status('manual', { now: NOV })).features.stock_reports?.used).toBe(5);
    const r = await qc.resetSubject('manual', { now: NOV, reason: 'support ticket 42' });
    expect(r).toEqual({
      subject: 'manual',
      period: {
        key: '2026-11',
        start: '2026-11-01T00:00:00.000Z',
        end: '2026-12-01T00:00:00.000Z',
      },
      cleared: { exports: 1, stock_reports: 5 },
    });
    expect((await qc.status('manual', { now: NOV })).features.stock_reports?.used).toBe(0);
    await qc.consume('manual', 'stock_reports', 2, { now: NOV });
    // The refund of a unit consumed before the reset can give back at most what is there.
    expect(await qc.refund('manual', 'before-reset', { now: NOV })).toMatchObject({
      refunded: true,
      amount: 2,
      used: 0,
    });
    const violations = await store.verify(NOV);
    expect(violations.filter((v) => v.subject === 'manual')).toEqual([]);
  });

  it('skips a subject already reset by the same operation in this period', async () => {
    const { qc } = ctx;
    await qc.consume('op-reset', 'stock_reports', 3, { now: NOV });
    const first = await qc.resetSubject('op-reset', { now: NOV, operation: 'bulk-1' });
    expect(first.cleared).toEqual({ stock_reports: 3 });
    await qc.consume('op-reset', 'stock_reports', 1, { now: NOV });
    const second = await qc.resetSubject('op-reset', { now: NOV, operation: 'bulk-1' });
    expect(second).toMatchObject({ cleared: {}, skipped: true });
    expect((await qc.status('op-reset', { now: NOV })).features.stock_reports?.used).toBe(1);
  });

  it('loses no update when resets race with consumes', async () => {
    const { qc, store } = ctx;
    await qc.addSubject({ id: 'race-reset', plan: 'pro_plus' }, { now: NOV });
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < 40; i += 1) {
      work.push(qc.consume('race-reset', 'stock_reports', 1, { now: NOV }));
      if (i % 10 === 5) work.push(qc.resetSubject('race-reset', { now: NOV }));
    }
    await Promise.all(work);
    expect(
      (await store.verify(NOV)).filter(
        (v) => v.kind === 'counter_mismatch' || v.kind === 'over_limit',
      ),
    ).toEqual([]);
  });
});
