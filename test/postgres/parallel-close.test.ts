/**
 * A calendar close batch on PostgreSQL runs as close_parallel parts, each on
 * its own connection and transaction. The parts write the run's checkpoint in
 * order, so its cursor always ends a closed prefix; a part that fails leaves
 * the cursor where it was while a later part's subjects are counted, and the
 * rerun closes exactly the rest.
 * Skipped with its reason when PostgreSQL is missing; fails under CI=true.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CONFIG, at, CI, type StoreLocationHandle } from '../contract/engines.js';
import { postgresEngine, scratchSchema } from './scratch-schema.js';
import { createQuotaClock } from '../../src/quotaclock.js';
import type { QuotaStore } from '../../src/store/quota-store.js';

const postgres = postgresEngine;
const NOV = at('2026-11-10T12:00:00Z');
const NOV_START = at('2026-11-01T00:00:00Z');
const DEC2 = at('2026-12-02T00:00:00Z');
const suite = postgres.missing === null || CI ? describe : describe.skip;

suite(`postgres parallel close${postgres.missing ? ` (skipped: ${postgres.missing})` : ''}`, () => {
  let location: StoreLocationHandle;
  let store: QuotaStore;
  let client: pg.Client;
  let schema: string;
  const ids = Array.from({ length: 40 }, (_, i) => `p-${String(i).padStart(3, '0')}`);

  beforeAll(async () => {
    ({ location, schema, client } = await scratchSchema());
    // Two parts per batch, whatever the default becomes.
    const url = new URL(location.url);
    url.searchParams.set('close_parallel', '2');
    const qc = createQuotaClock({ config: { ...TEST_CONFIG, store: url.toString() } });
    store = await qc.store();
    await store.migrate();
    await qc.importSubjects(
      ids.map((id) => ({ id })),
      { now: NOV },
    );
    for (const [i, id] of ids.entries()) {
      await qc.consume(id, 'stock_reports', (i % 5) + 1, { now: NOV });
    }
  });
  afterAll(async () => {
    await store?.close();
    await client?.end();
    await location?.destroy();
  });

  const ridOf = async (id: string) =>
    Number(
      (
        await client.query<{ rid: string }>(`SELECT rid FROM ${schema}.subjects WHERE id = $1`, [
          id,
        ])
      ).rows[0]!.rid,
    );
  const checkpoint = async () => (await store.getRun('2026-11'))!.checkpoint;

  it('counts a later part when an earlier one fails, keeps the cursor, and the rerun closes the rest once', async () => {
    const first = await ridOf(ids[0]!);
    expect(await ridOf(ids[39]!)).toBe(first + 39);
    await store.beginRun('2026-11', 'test', DEC2, {
      startMs: NOV_START,
      endMs: at('2026-12-01T00:00:00Z'),
    });
    // A row already archived for a subject of the first part makes that part's archive insert fail.
    const blocker = await ridOf(ids[3]!);
    await client.query(
      `INSERT INTO ${schema}.closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms)
       VALUES ($1, $2, $3, '2026-11', 'free', '{}', $4)`,
      [blocker, NOV_START, at('2026-12-01T00:00:00Z'), DEC2],
    );
    const cursor = String(first - 1);
    const batch = { key: '2026-11', nowMs: DEC2, cursor, batchSize: 20, write: true } as const;
    await expect(store.closeBatch(batch)).rejects.toThrow(/closed_periods_pkey/);
    // The second part (ids 10–19) committed; the first did not, so the cursor did not move.
    let cp = await checkpoint();
    expect(cp.cursor).toBe(null);
    expect(cp.subjects).toBe(10);
    expect(cp.summary.free?.stock_reports).toEqual({ subjects: 10, used: 30, atLimit: 0 });
    const open = await store.openCount('2026-11', DEC2);
    expect(open.ended).toBe(30);

    await client.query(`DELETE FROM ${schema}.closed_periods WHERE subject_rid = $1`, [blocker]);
    const again = await store.closeBatch(batch);
    // The rerun of the same range closes the first part and finds the second closed.
    expect(again.closed).toBe(10);
    expect(again.cursor).toBe(String(first + 19));
    cp = await checkpoint();
    expect(cp.cursor).toBe(String(first + 19));
    expect(cp.subjects).toBe(20);
    const last = await store.closeBatch({ ...batch, cursor: again.cursor });
    expect(last.closed).toBe(20);
    expect(last.cursor).toBe(null);
    cp = await checkpoint();
    expect(cp.subjects).toBe(40);
    expect(cp.summary.free?.stock_reports).toEqual({ subjects: 40, used: 120, atLimit: 0 });
    expect(await store.openCount('2026-11', DEC2)).toMatchObject({ ended: 0, notYetEnded: 0 });
    const archived = await client.query<{ n: string; d: string }>(
      `SELECT COUNT(*) AS n, COUNT(DISTINCT subject_rid) AS d FROM ${schema}.closed_periods WHERE period_key = '2026-11'`,
    );
    expect(archived.rows[0]).toEqual({ n: '40', d: '40' });
  });
});
