import { expect, it } from 'vitest';
import type { QuotaStore } from '../../src/store/quota-store.js';
import { createQuotaClock } from '../../src/quotaclock.js';
import { ENGINES, TEST_CONFIG, at, contract, exportAll } from './engines.js';

const SEP = at('2026-09-12T08:00:00Z');
const NOV = at('2026-11-10T12:00:00Z');
const DEC2 = at('2026-12-02T00:00:00Z');

/** Everything a store can hold: plans, zones, overrides, suspension, keys, meta, refunds, resets, closes, runs. */
async function fill(ctx: { qc: ReturnType<typeof createQuotaClock>; store: QuotaStore }) {
  const { qc, store } = ctx;
  await qc.addSubject(
    {
      id: 'b-alice',
      plan: 'pro',
      timeZone: 'Europe/Berlin',
      email: 'a@example.com',
      name: 'Alice',
    },
    { now: SEP },
  );
  await qc.addSubject(
    { id: 'b-bob', overrides: { stock_reports: 3, exports: null } },
    { now: SEP },
  );
  await qc.addSubject({ id: 'b-ent', plan: 'enterprise', timeZone: 'Asia/Kolkata' }, { now: SEP });
  await qc.consume('b-alice', 'stock_reports', 4, {
    now: SEP,
    key: 'a-1',
    meta: { ticker: 'AAPL', status: 'ok' },
  });
  await qc.consume('b-alice', 'exports', 1, { now: at('2026-10-03T00:00:00Z') });
  await qc.consume('b-bob', 'stock_reports', 3, { now: NOV, key: 'b-1' });
  await qc.consume('b-bob', 'stock_reports', 1, { now: NOV, key: 'b-2' });
  await qc.consume('b-ent', 'stock_reports', 500, { now: NOV, meta: { generation_time_ms: 1234 } });
  await qc.consume('b-auto', 'stock_reports', 2, { now: NOV, key: 'auto-1' });
  await qc.refund('b-bob', 'b-1', { now: NOV });
  await qc.resetSubject('b-alice', { now: NOV, reason: 'goodwill' });
  await qc.consume('b-alice', 'stock_reports', 1, { now: NOV });
  await qc.suspend('b-bob', 'fraud review', { now: NOV });
  // Close September and October for everyone, leave a run in the ledger.
  for (const key of ['2026-09', '2026-10']) {
    await store.beginRun(key, 'test', DEC2, { startMs: SEP, endMs: NOV });
    let cursor: string | null = null;
    do {
      cursor = (await store.closeBatch({ key, nowMs: NOV, cursor, batchSize: 2, write: true }))
        .cursor;
    } while (cursor !== null);
    await store.finishRun(key, 'closed', NOV);
  }
}

contract('backup and restore', ({ useStore, engine }) => {
  const ctx = useStore();

  for (const target of ENGINES.filter((e) => e.missing === null)) {
    it(`round-trips ${engine.name} → ${target.name}: same records, status and history for every subject`, async () => {
      if ((await ctx.store.listSubjects({ limit: 1 })).items.length === 0) await fill(ctx);
      const source = ctx.store;
      const records = await exportAll(source);
      expect(new Set(records.map((r) => r.type))).toEqual(
        new Set(['subject', 'counter', 'event', 'closed_period', 'run', 'audit']),
      );
      const location = await target.create();
      const restored = await location.open(ctx.policy);
      try {
        await restored.migrate();
        expect(await restored.importRecords(records)).toEqual({ records: records.length });
        expect(await exportAll(restored)).toEqual(records);
        const other = createQuotaClock({
          config: { ...TEST_CONFIG, store: location.url },
          store: restored,
        });
        const ids: string[] = [];
        let after: string | null = null;
        do {
          const page = await ctx.qc.listSubjects({ after, limit: 2 });
          ids.push(...page.items.map((s) => s.id));
          after = page.next;
        } while (after !== null);
        expect(ids.length).toBe(4);
        for (const id of ids) {
          for (const now of [NOV, DEC2]) {
            expect(await other.status(id, { now })).toEqual(await ctx.qc.status(id, { now }));
          }
          expect(await other.history(id)).toEqual(await ctx.qc.history(id));
          expect(await other.getSubject(id)).toEqual(await ctx.qc.getSubject(id));
        }
        // The restored store carries on: keys are still remembered, refunds still find their consume.
        expect(
          await other.consume('b-auto', 'stock_reports', 2, { now: NOV, key: 'auto-1' }),
        ).toMatchObject({
          replayed: true,
          used: 2,
        });
        expect(await other.refund('b-bob', 'b-1', { now: NOV })).toMatchObject({
          alreadyRefunded: true,
        });
        expect(await restored.verify(NOV)).toEqual(await source.verify(NOV));
        // A second restore into the now non-empty target is refused whole.
        await expect(restored.importRecords(records)).rejects.toMatchObject({ code: 'BAD_INPUT' });
      } finally {
        await restored.close();
        await location.destroy();
      }
    });
  }
});
