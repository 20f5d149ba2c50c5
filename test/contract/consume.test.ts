import { expect, it } from 'vitest';
import { at, contract } from './engines.js';

const NOV = at('2026-11-10T12:00:00Z');

contract('consume', ({ useStore }) => {
  const ctx = useStore();

  it('grants up to the limit and refuses the unit after it', async () => {
    const { qc } = ctx;
    for (let i = 1; i <= 10; i += 1) {
      const r = await qc.consume('limit-user', 'stock_reports', 1, { now: NOV });
      expect(r).toMatchObject({ granted: true, used: i, limit: 10, remaining: 10 - i });
      expect(r.reason).toBeUndefined();
    }
    const denied = await qc.consume('limit-user', 'stock_reports', 1, { now: NOV });
    expect(denied).toEqual({
      granted: false,
      used: 10,
      limit: 10,
      remaining: 0,
      period: {
        key: '2026-11',
        start: '2026-11-01T00:00:00.000Z',
        end: '2026-12-01T00:00:00.000Z',
      },
      timeZone: 'UTC',
      // From 2026-11-10T12:00Z to the end of November.
      secondsLeft: (20 * 24 + 12) * 3600,
      reason: 'quota_exceeded',
    });
    const s = await qc.status('limit-user', { now: NOV });
    expect(s.features.stock_reports).toEqual({
      limit: 10,
      used: 10,
      remaining: 0,
      unlimited: false,
    });
    expect(s.plan).toBe('free');
  });

  it('refuses an amount that does not fit whole and changes nothing', async () => {
    const { qc } = ctx;
    await qc.consume('amount-user', 'stock_reports', 8, { now: NOV });
    const r = await qc.consume('amount-user', 'stock_reports', 3, { now: NOV });
    expect(r).toMatchObject({ granted: false, used: 8, remaining: 2, reason: 'quota_exceeded' });
    expect((await qc.consume('amount-user', 'stock_reports', 2, { now: NOV })).used).toBe(10);
    const big = await qc.consume('amount-user-2', 'stock_reports', 11, { now: NOV });
    expect(big).toMatchObject({ granted: false, used: 0, remaining: 10 });
  });

  it('counts features separately', async () => {
    const { qc } = ctx;
    await qc.consume('features', 'exports', 2, { now: NOV });
    expect((await qc.consume('features', 'exports', 1, { now: NOV })).granted).toBe(false);
    expect((await qc.consume('features', 'stock_reports', 1, { now: NOV })).granted).toBe(true);
  });

  it('never limits an unlimited plan', async () => {
    const { qc } = ctx;
    await qc.addSubject({ id: 'ent', plan: 'enterprise' }, { now: NOV });
    const r = await qc.consume('ent', 'stock_reports', 1_000_000, { now: NOV });
    expect(r).toMatchObject({ granted: true, used: 1_000_000, limit: null, remaining: null });
    const again = await qc.consume('ent', 'stock_reports', 5, { now: NOV });
    expect(again.used).toBe(1_000_005);
    expect((await qc.status('ent', { now: NOV })).features.stock_reports).toEqual({
      limit: null,
      used: 1_000_005,
      remaining: null,
      unlimited: true,
    });
  });

  it('applies overrides over the plan, including unlimited and removal', async () => {
    const { qc } = ctx;
    await qc.addSubject({ id: 'ovr', plan: 'pro' }, { now: NOV });
    await qc.setOverride('ovr', 'stock_reports', 3, { now: NOV });
    expect((await qc.getSubject('ovr')).overrides).toEqual({ stock_reports: 3 });
    for (let i = 0; i < 3; i += 1) await qc.consume('ovr', 'stock_reports', 1, { now: NOV });
    expect(await qc.consume('ovr', 'stock_reports', 1, { now: NOV })).toMatchObject({
      granted: false,
      limit: 3,
    });
    await qc.setOverride('ovr', 'stock_reports', null, { now: NOV });
    expect(await qc.consume('ovr', 'stock_reports', 100, { now: NOV })).toMatchObject({
      granted: true,
      limit: null,
      used: 103,
    });
    await qc.setOverride('ovr', 'stock_reports', undefined, { now: NOV });
    expect((await qc.getSubject('ovr')).overrides).toEqual({});
    expect(await qc.consume('ovr', 'stock_reports', 1, { now: NOV })).toMatchObject({
      granted: false,
      limit: 45,
      used: 103,
      remaining: 0,
    });
  });

  it('refuses a suspended subject without counting, until unsuspended', async () => {
    const { qc } = ctx;
    await qc.consume('susp', 'stock_reports', 2, { now: NOV });
    const s = await qc.suspend('susp', 'chargeback', { now: NOV });
    expect(s).toMatchObject({ suspended: true, suspendedReason: 'chargeback' });
    const r = await qc.consume('susp', 'stock_reports', 1, { now: NOV, key: 'susp-1' });
    expect(r).toMatchObject({ granted: false, used: 2, remaining: 8, reason: 'suspended' });
    expect(await qc.status('susp', { now: NOV })).toMatchObject({
      suspended: true,
      suspendedReason: 'chargeback',
    });
    await qc.unsuspend('susp', { now: NOV });
    expect(await qc.getSubject('susp')).toMatchObject({ suspended: false, suspendedReason: null });
    expect(await qc.consume('susp', 'stock_reports', 1, { now: NOV })).toMatchObject({
      granted: true,
      used: 3,
    });
    // The keyed denial is still the answer for its key.
    expect(await qc.consume('susp', 'stock_reports', 1, { now: NOV, key: 'susp-1' })).toMatchObject(
      {
        granted: false,
        reason: 'suspended',
        replayed: true,
      },
    );
  });

  it('returns the first outcome for a repeated key and counts once', async () => {
    const { qc } = ctx;
    const first = await qc.consume('idem', 'stock_reports', 2, {
      now: NOV,
      key: 'report-1',
      meta: { ticker: 'AAPL' },
    });
    expect(first.replayed).toBeUndefined();
    const again = await qc.consume('idem', 'stock_reports', 2, {
      now: NOV + 1000,
      key: 'report-1',
    });
    expect(again).toEqual({ ...first, replayed: true });
    expect((await qc.status('idem', { now: NOV })).features.stock_reports?.used).toBe(2);
    // A denial is replayed as a denial even after room appears.
    await qc.consume('idem', 'stock_reports', 8, { now: NOV });
    const denied = await qc.consume('idem', 'stock_reports', 1, { now: NOV, key: 'report-2' });
    expect(denied.granted).toBe(false);
    await qc.setPlan('idem', 'pro', { now: NOV });
    expect(await qc.consume('idem', 'stock_reports', 1, { now: NOV, key: 'report-2' })).toEqual({
      ...denied,
      replayed: true,
    });
  });

  it('counts concurrent calls with one key once and answers each with the first outcome', async () => {
    const { qc } = ctx;
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        qc.consume('idem-race', 'stock_reports', 3, { now: NOV, key: 'same-key' }),
      ),
    );
    expect(results.filter((r) => r.replayed !== true)).toHaveLength(1);
    for (const r of results) expect(r).toMatchObject({ granted: true, used: 3, remaining: 7 });
    expect((await qc.status('idem-race', { now: NOV })).features.stock_reports?.used).toBe(3);
  });

  it('creates an unknown subject on first consume, on the default plan', async () => {
    const { qc } = ctx;
    expect((await qc.listSubjects({ after: 'new-', limit: 1 })).items[0]?.id).not.toBe('new-user');
    await qc.consume('new-user', 'stock_reports', 1, { now: NOV });
    expect(await qc.getSubject('new-user')).toMatchObject({
      id: 'new-user',
      plan: 'free',
      suspended: false,
      timeZone: null,
      createdAt: new Date(NOV).toISOString(),
    });
  });

  it('keeps counters equal to the sum of events', async () => {
    expect(
      (await ctx.store.verify(NOV)).filter(
        (v) => v.kind === 'counter_mismatch' || v.kind === 'over_limit',
      ),
    ).toEqual([]);
  });
});

contract('consume without auto-create', ({ useStore }) => {
  const ctx = useStore({ autoCreateSubjects: false });

  it('refuses an unknown subject and creates nothing', async () => {
    await expect(ctx.qc.consume('ghost', 'stock_reports', 1, { now: NOV })).rejects.toMatchObject({
      code: 'SUBJECT_NOT_FOUND',
    });
    expect(await ctx.store.getSubject('ghost')).toBeNull();
    await expect(ctx.qc.status('ghost', { now: NOV })).rejects.toMatchObject({
      code: 'SUBJECT_NOT_FOUND',
    });
  });
});
