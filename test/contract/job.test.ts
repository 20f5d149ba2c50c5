import { describe, expect, it } from 'vitest';
import { mergeTotals, type CloseTotals } from '../../src/core/close-summary.js';
import type {
  CloseBatchRequest,
  PreviewBatchResult,
  QuotaStore,
} from '../../src/store/quota-store.js';
import { runReset } from '../../src/jobs/reset.js';
import { at, contract, exportAll } from './engines.js';

const AUG = at('2026-08-15T00:00:00Z');
const NOV = at('2026-11-10T12:00:00Z');
const DEC2 = at('2026-12-02T00:00:00Z');

/** Closes one key to the end of its pass; returns what this closer closed. */
async function closeLoop(
  store: QuotaStore,
  key: string,
  nowMs: number,
  batchSize: number,
  extra: Partial<CloseBatchRequest> = {},
): Promise<{ closed: number; summary: CloseTotals; batches: number }> {
  let cursor: string | null = null;
  let closed = 0;
  let batches = 0;
  const summary: CloseTotals = {};
  do {
    const b = await store.closeBatch({ key, nowMs, cursor, batchSize, write: true, ...extra });
    closed += b.closed;
    mergeTotals(summary, b.summary);
    cursor = b.cursor;
    batches += 1;
  } while (cursor !== null);
  return { closed, summary, batches };
}

async function previewAll(store: QuotaStore, nowMs: number, batchSize: number) {
  const byKey: Record<string, { subjects: number; summary: CloseTotals }> = {};
  let cursor: string | null = null;
  do {
    const b: PreviewBatchResult = await store.previewBatch(nowMs, cursor, batchSize);
    for (const [key, v] of Object.entries(b.byKey)) {
      const e = (byKey[key] ??= { subjects: 0, summary: {} });
      e.subjects += v.subjects;
      mergeTotals(e.summary, v.summary);
    }
    cursor = b.cursor;
  } while (cursor !== null);
  return byKey;
}

contract('reset job: lease and ledger', ({ useStore }) => {
  const ctx = useStore();

  it('lets one holder take the lease; a second is refused until it expires', async () => {
    const { store } = ctx;
    const t = NOV;
    expect(await store.acquireLease('reset', 'host-a', 60_000, t)).toEqual({
      name: 'reset',
      holder: 'host-a',
      expiresMs: t + 60_000,
    });
    expect(await store.acquireLease('reset', 'host-b', 60_000, t + 1000)).toBeNull();
    expect(await store.renewLease('reset', 'host-b', 60_000, t + 1000)).toBe(false);
    // Already ours: taken again and extended.
    expect(await store.acquireLease('reset', 'host-a', 60_000, t + 2000)).toMatchObject({
      holder: 'host-a',
      expiresMs: t + 62_000,
    });
    expect(await store.renewLease('reset', 'host-a', 60_000, t + 30_000)).toBe(true);
    expect(await store.acquireLease('reset', 'host-b', 60_000, t + 89_999)).toBeNull();
    expect(await store.acquireLease('reset', 'host-b', 60_000, t + 90_000)).toMatchObject({
      holder: 'host-b',
    });
    // A release by someone who no longer holds it does nothing.
    await store.releaseLease('reset', 'host-a');
    expect(await store.acquireLease('reset', 'host-a', 60_000, t + 90_001)).toBeNull();
    await store.releaseLease('reset', 'host-b');
    expect(await store.acquireLease('reset', 'host-a', 60_000, t + 90_002)).not.toBeNull();
  });

  it('gives exactly one concurrent caller the lease', async () => {
    const { store } = ctx;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.acquireLease('race', `h${i}`, 60_000, NOV)),
    );
    expect(results.filter((r) => r !== null)).toHaveLength(1);
  });

  it('keeps one ledger row per period key', async () => {
    const { store } = ctx;
    const period = { startMs: at('2026-10-01T00:00:00Z'), endMs: at('2026-11-01T00:00:00Z') };
    const [a, b] = await Promise.all([
      store.beginRun('2026-10', 'host-a', NOV, period),
      store.beginRun('2026-10', 'host-b', NOV, period),
    ]);
    expect(a.key).toBe('2026-10');
    expect(b.key).toBe('2026-10');
    const run = await store.getRun('2026-10');
    expect(run).toMatchObject({
      key: '2026-10',
      status: 'running',
      attempts: 2,
      periodStart: '2026-10-01T00:00:00.000Z',
      periodEnd: '2026-11-01T00:00:00.000Z',
      finishedAt: null,
      error: null,
      checkpoint: { cursor: null, subjects: 0, summary: {} },
    });
    expect((await store.listRuns(100)).filter((r) => r.key === '2026-10')).toHaveLength(1);
    const failed = await store.finishRun('2026-10', 'failed', NOV + 1, 'disk full');
    expect(failed).toMatchObject({
      status: 'failed',
      error: 'disk full',
      finishedAt: new Date(NOV + 1).toISOString(),
    });
    const again = await store.beginRun('2026-10', 'host-c', NOV + 2, {
      startMs: period.startMs - 3_600_000,
      endMs: period.endMs,
    });
    expect(again).toMatchObject({
      status: 'running',
      attempts: 3,
      holder: 'host-c',
      error: null,
      periodStart: '2026-09-30T23:00:00.000Z',
    });
    const closed = await store.finishRun('2026-10', 'closed', NOV + 3);
    expect(closed).toMatchObject({ status: 'closed', error: null });
  });
});

contract('reset job: closing', ({ useStore }) => {
  describe('open counts', () => {
    const ctx = useStore();

    it('count a key ended and not yet ended, and return pendingPeriods when a store reads them too', async () => {
      const { qc, store } = ctx;
      await qc.importSubjects([{ id: 'o-aug-a' }, { id: 'o-aug-b' }], { now: AUG });
      await qc.importSubjects([{ id: 'o-nov' }], { now: NOV });
      // Midnight UTC on 1 December is still November in New York: that subject's period has not ended.
      await qc.importSubjects([{ id: 'o-nov-ny', timeZone: 'America/New_York' }], { now: NOV });
      const now = at('2026-12-01T00:30:00Z');
      const pending = await store.pendingPeriods(now);
      expect(pending.map((p) => [p.key, p.subjects])).toEqual([
        ['2026-08', 2],
        ['2026-11', 1],
      ]);
      const aug = await store.openCount('2026-08', now);
      expect(aug).toMatchObject({ ended: 2, notYetEnded: 0 });
      const nov = await store.openCount('2026-11', now);
      expect(nov).toMatchObject({ ended: 1, notYetEnded: 1 });
      expect(await store.openCount('2026-05', now)).toMatchObject({ ended: 0, notYetEnded: 0 });
      for (const open of [aug, nov]) if (open.pending) expect(open.pending).toEqual(pending);
    });
  });

  describe('two closers overlapping', () => {
    const ctx = useStore();

    it('closes each subject exactly once', async () => {
      const { qc, store } = ctx;
      const ids = Array.from({ length: 60 }, (_, i) => `c-${String(i).padStart(3, '0')}`);
      await qc.importSubjects(
        ids.map((id) => ({ id })),
        { now: NOV },
      );
      for (const id of ids.slice(0, 30)) await qc.consume(id, 'stock_reports', 1, { now: NOV });
      await store.beginRun('2026-11', 'test', DEC2, {
        startMs: at('2026-11-01T00:00:00Z'),
        endMs: at('2026-12-01T00:00:00Z'),
      });
      // A multi-writer engine gets a second store instance, with its own connections, as another host would.
      const other = store.capabilities.multiWriter ? await ctx.another() : store;
      const [a, b] = await Promise.all([
        closeLoop(store, '2026-11', DEC2, 7),
        closeLoop(other, '2026-11', DEC2, 5),
      ]);
      expect(a.closed + b.closed).toBe(60);
      const used = mergeTotals(mergeTotals({}, a.summary), b.summary);
      expect(used.free?.stock_reports).toEqual({ subjects: 60, used: 30, atLimit: 0 });
      expect(await store.openCount('2026-11', DEC2)).toMatchObject({ ended: 0, notYetEnded: 0 });
      expect(await store.pendingPeriods(DEC2)).toEqual([]);
      // The checkpoint counted each subject once, whoever closed it.
      expect((await store.getRun('2026-11'))?.checkpoint.subjects).toBe(60);
      for (const id of ids) {
        const closedPeriods = (await qc.history(id)).filter((h) => h.closed);
        expect(closedPeriods.map((h) => h.key)).toEqual(['2026-11']);
      }
      // Closing again is a no-op.
      expect((await closeLoop(store, '2026-11', DEC2, 100)).closed).toBe(0);
    });
  });

  describe('sharded closers', () => {
    const ctx = useStore();

    it('split the subjects between shards and close each once, with an unsharded closer overlapping', async (t) => {
      const { qc, store } = ctx;
      if (!store.capabilities.shardedClose) t.skip(`${store.engine} does not shard closes`);
      const ids = Array.from({ length: 90 }, (_, i) => `s-${i}`);
      await qc.importSubjects(
        ids.map((id) => ({ id })),
        { now: NOV },
      );
      const workers = [store, await ctx.another(), await ctx.another()];
      const results = await Promise.all([
        ...[0, 1, 2].map((index) =>
          closeLoop(workers[index]!, '2026-11', DEC2, 8, { shard: { index, count: 3 } }),
        ),
        closeLoop(store, '2026-11', DEC2, 11),
      ]);
      expect(results.reduce((n, r) => n + r.closed, 0)).toBe(90);
      expect(await store.pendingPeriods(DEC2)).toEqual([]);
    });

    it('assigns every subject to exactly one shard', async (t) => {
      const { qc, store } = ctx;
      if (!store.capabilities.shardedClose) t.skip(`${store.engine} does not shard closes`);
      const ids = Array.from({ length: 40 }, (_, i) => `t-${i}`);
      await qc.importSubjects(
        ids.map((id) => ({ id })),
        { now: at('2026-12-10T00:00:00Z') },
      );
      const jan2 = at('2027-01-02T00:00:00Z');
      // The 90 subjects above are now open in 2026-12 too. Dry runs of each shard add up to all of them.
      let total = 0;
      for (const index of [0, 1, 2, 3]) {
        let cursor: string | null = null;
        do {
          const b = await store.closeBatch({
            key: '2026-12',
            nowMs: jan2,
            cursor,
            batchSize: 1000,
            write: false,
            shard: { index, count: 4 },
          });
          total += b.closed;
          cursor = b.cursor;
        } while (cursor !== null);
      }
      expect(total).toBe(130);
    });

    it('refuses a shard outside 0 ≤ i < n', async (t) => {
      const { store } = ctx;
      if (!store.capabilities.shardedClose) t.skip(`${store.engine} does not shard closes`);
      for (const shard of [
        { index: 3, count: 3 },
        { index: -1, count: 2 },
        { index: 0, count: 0 },
      ]) {
        await expect(
          store.closeBatch({
            key: '2026-12',
            nowMs: NOV,
            cursor: null,
            batchSize: 10,
            write: true,
            shard,
          }),
        ).rejects.toMatchObject({ code: 'BAD_INPUT', where: '--shard' });
      }
    });
  });

  describe('a zone met late in the pass', () => {
    const ctx = useStore({ reset: { batchSize: 3, leaseSeconds: 60, waitForLeaseSeconds: 5 } });

    it('is closed by the same run, counted once', async () => {
      const { qc, store } = ctx;
      const utc = Array.from({ length: 7 }, (_, i) => ({ id: `z-${i}` }));
      // Tokyo's subject sits behind the first ranges, so a store that reuses the
      // zones it has met (PostgreSQL) first sees it in a later range.
      await qc.importSubjects([...utc, { id: 'z-tokyo', timeZone: 'Asia/Tokyo' }, { id: 'z-8' }], {
        now: NOV,
      });
      for (const id of ['z-0', 'z-5', 'z-tokyo', 'z-8'])
        await qc.consume(id, 'stock_reports', 2, { now: NOV });
      const report = await runReset(qc, { now: DEC2 });
      expect(report.periods.map((p) => [p.key, p.status, p.subjects, p.used])).toEqual([
        ['2026-11', 'closed', 9, 8],
      ]);
      expect(report.periods[0]?.summary.free?.stock_reports).toEqual({
        subjects: 9,
        used: 8,
        atLimit: 0,
      });
      expect(await store.pendingPeriods(DEC2)).toEqual([]);
      const closed = (await qc.history('z-tokyo')).filter((h) => h.closed).map((h) => h.key);
      expect(closed).toEqual(['2026-11']);
    });
  });

  describe('dry run and catch-up', () => {
    const ctx = useStore();

    it('previews exactly what closing then does, for every missed period, oldest first', async () => {
      const { qc, store } = ctx;
      const ids = Array.from({ length: 13 }, (_, i) => `p-${i}`);
      await qc.importSubjects(
        ids.map((id, i) => ({ id, plan: i % 3 === 0 ? 'pro' : 'free' })),
        { now: AUG },
      );
      await qc.addSubject({ id: 'p-tokyo', timeZone: 'Asia/Tokyo' }, { now: AUG });
      const months = ['2026-08-20', '2026-09-20', '2026-10-20', '2026-11-20'];
      for (const [m, day] of months.entries()) {
        for (const [i, id] of [...ids, 'p-tokyo'].entries()) {
          if ((i + m) % 2 === 0)
            await qc.consume(id, 'stock_reports', 1 + (i % 10), { now: at(`${day}T00:00:00Z`) });
        }
      }
      const before = await exportAll(store);
      const preview = await previewAll(store, DEC2, 4);
      expect(Object.keys(preview).sort()).toEqual(['2026-08', '2026-09', '2026-10', '2026-11']);
      for (const v of Object.values(preview)) expect(v.subjects).toBe(14);
      // A dry closeBatch writes nothing either.
      const dry = await store.closeBatch({
        key: '2026-08',
        nowMs: DEC2,
        cursor: null,
        batchSize: 100,
        write: false,
      });
      expect(dry.closed).toBe(14);
      expect(await exportAll(store)).toEqual(before);

      const pending = await store.pendingPeriods(DEC2);
      expect(pending.map((p) => [p.key, p.subjects])).toEqual([['2026-08', 14]]);
      const done: Record<string, { subjects: number; summary: CloseTotals }> = {};
      for (;;) {
        const next = (await store.pendingPeriods(DEC2))[0];
        if (!next) break;
        const r = await closeLoop(store, next.key, DEC2, 4);
        const e = (done[next.key] ??= { subjects: 0, summary: {} });
        e.subjects += r.closed;
        mergeTotals(e.summary, r.summary);
      }
      expect(done).toEqual(preview);
      expect(await previewAll(store, DEC2, 4)).toEqual({});
      expect((await store.verify(DEC2)).filter((v) => v.kind === 'open_period')).toEqual([]);
    });

    it('sums a closed period per plan and feature, at-limit subjects included, across zones and overrides', async () => {
      const { qc, store } = ctx;
      const NOV5 = at('2026-11-05T12:00:00Z');
      await qc.importSubjects(
        [
          { id: 's-free-a' },
          { id: 's-free-b' },
          { id: 's-free-c', timeZone: 'Asia/Tokyo' },
          { id: 's-free-d' },
          { id: 's-free-e' },
          { id: 's-free-f' },
          { id: 's-free-big', overrides: { stock_reports: 20 } },
          { id: 's-pro-a', plan: 'pro' },
          { id: 's-pro-b', plan: 'pro', timeZone: 'America/New_York' },
          { id: 's-pro-c', plan: 'pro' },
          { id: 's-ent', plan: 'enterprise' },
        ],
        { now: NOV5 },
      );
      const use: Array<[string, string, number]> = [
        ['s-free-a', 'stock_reports', 10], // at its limit
        ['s-free-a', 'exports', 2], // at its limit
        ['s-free-b', 'stock_reports', 3],
        ['s-free-c', 'stock_reports', 10], // at its limit, in another zone
        ['s-free-c', 'exports', 1],
        ['s-free-big', 'stock_reports', 12], // over the plan's 10, under its own 20
        ['s-pro-a', 'stock_reports', 45], // at its limit
        ['s-pro-c', 'stock_reports', 45], // the same usage as s-pro-a: one histogram row of two
        ['s-pro-b', 'exports', 4],
        ['s-ent', 'stock_reports', 500], // unlimited: never at a limit
      ];
      for (const [id, feature, n] of use) await qc.consume(id, feature, n, { now: NOV5 });
      const preview = await previewAll(store, DEC2, 3);
      let closed = 0;
      const summary: CloseTotals = {};
      for (;;) {
        const next = (await store.pendingPeriods(DEC2))[0];
        if (!next) break;
        // One batch, so subjects with equal usage share a row of the set-based survey.
        const r = await closeLoop(store, next.key, DEC2, 100);
        closed += r.closed;
        mergeTotals(summary, r.summary);
      }
      expect(closed).toBe(11);
      expect(summary).toEqual({
        free: {
          stock_reports: { subjects: 7, used: 35, atLimit: 2 },
          exports: { subjects: 7, used: 3, atLimit: 1 },
        },
        pro: {
          stock_reports: { subjects: 3, used: 90, atLimit: 2 },
          exports: { subjects: 3, used: 4, atLimit: 0 },
        },
        enterprise: {
          stock_reports: { subjects: 1, used: 500, atLimit: 0 },
          exports: { subjects: 1, used: 0, atLimit: 0 },
        },
      });
      expect(preview['2026-11']).toEqual({ subjects: 11, summary });
    });

    it('prunes closed history older than the cut-off and nothing open', async () => {
      const { qc, store } = ctx;
      const cut = at('2026-10-01T00:00:00Z');
      await qc.addSubject({ id: 'p-open' }, { now: AUG });
      await qc.consume('p-open', 'stock_reports', 2, { now: AUG });
      const before = (await qc.history('p-0')).map((h) => h.key);
      expect(before).toContain('2026-08');
      const pruned = await store.prune(cut);
      // 14 subjects closed August and September.
      expect(pruned.periods).toBe(28);
      expect(pruned.events).toBeGreaterThan(0);
      const after = (await qc.history('p-0')).map((h) => h.key);
      expect(after).toEqual(before.filter((k) => k >= '2026-10'));
      // p-open's August is old but not closed: kept.
      expect(
        (await qc.history('p-open')).map((h) => [h.key, h.features.stock_reports?.used]),
      ).toEqual([['2026-08', 2]]);
      expect(await store.prune(cut)).toEqual({ periods: 0, events: 0 });
      expect((await store.verify(DEC2)).filter((v) => v.kind === 'counter_mismatch')).toEqual([]);
    });
  });
});
