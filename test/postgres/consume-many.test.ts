/**
 * PostgreSQL's consumeMany locks counters and writes a whole batch in one
 * transaction, from any number of processes at once. These tests hold it to
 * what the contract suite asks of every engine where only that path can
 * break: exact limits with many batches from two pools racing on one
 * counter, and keys and metadata that careless quoting would mangle.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CI, TEST_CONFIG, at } from '../contract/engines.js';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import { postgresEngine, scratchSchema, type ScratchSchema } from './scratch-schema.js';

const suite = postgresEngine.missing === null || CI ? describe : describe.skip;
const NOV = at('2026-11-10T12:00:00Z');

suite('postgres consumeMany', () => {
  let scratch: ScratchSchema;
  let one: QuotaClock;
  let two: QuotaClock;

  beforeAll(async () => {
    scratch = await scratchSchema();
    const config = { ...TEST_CONFIG, store: scratch.location.url };
    one = createQuotaClock({ config });
    await one.init();
    two = createQuotaClock({ config });
  });

  afterEach(() => vi.restoreAllMocks());

  afterAll(async () => {
    await one?.close();
    await two?.close();
    await scratch?.client.end();
    await scratch?.location.destroy();
  });

  it('grants exactly the limit to batches racing on one counter from two pools', async () => {
    // free: stock_reports 10 a month; 12 batches of 7 ask for 84.
    await one.addSubject({ id: 'hot' }, { now: NOV });
    const batch = (qc: QuotaClock, i: number) =>
      qc.consumeMany(
        Array.from({ length: 7 }, (_, j) => ({
          subject: 'hot',
          feature: 'stock_reports',
          ...(j % 3 === 0 ? { key: `hot-${i}-${j}` } : {}),
        })),
        { now: NOV },
      );
    const outcomes = (
      await Promise.all(Array.from({ length: 12 }, (_, i) => batch(i % 2 ? one : two, i)))
    ).flat();
    const results = outcomes.map((o) => (o.ok ? o.result : null));
    expect(results.every((r) => r !== null)).toBe(true);
    expect(results.filter((r) => r!.granted)).toHaveLength(10);
    expect(Math.max(...results.map((r) => r!.used))).toBe(10);
    expect((await one.status('hot', { now: NOV })).features.stock_reports?.used).toBe(10);
    const events = await one.subjectEvents('hot', { limit: 200 });
    expect(events.items).toHaveLength(84);
    expect(events.items.filter((e) => e.granted)).toHaveLength(10);
  });

  it('stores keys, metadata and subject ids with quotes, backslashes and braces exactly', async () => {
    const odd = `o'k"\\ {x,y} NULL '); DROP TABLE events; --`;
    const id = `ü.Ω:o@n+é-1_2`;
    const items = [
      { subject: id, feature: 'stock_reports', key: odd, meta: { note: odd, n: 1 } },
      { subject: id, feature: 'exports', key: `${odd}\\2`, meta: { note: '\\"' } },
    ];
    const first = await one.consumeMany(items, { now: NOV });
    expect(first.map((o) => o.ok && o.result.granted)).toEqual([true, true]);
    // The keys are found again: the same batch replays, from the other pool too.
    const again = await two.consumeMany(items, { now: NOV });
    expect(again.map((o) => o.ok && o.result.replayed)).toEqual([true, true]);
    const events = await one.subjectEvents(id, { limit: 10 });
    expect(events.items.map((e) => [e.key, e.meta])).toEqual(
      expect.arrayContaining([
        [odd, { note: odd, n: 1 }],
        [`${odd}\\2`, { note: '\\"' }],
      ]),
    );
    const { rows } = await scratch.client.query<{ n: string }>(
      `SELECT count(*) AS n FROM "${scratch.schema}".events`,
    );
    expect(Number(rows[0]!.n)).toBeGreaterThan(2);
  });

  /** What the store sends from here on: named statements by name, the rest by their first word. */
  const sent = () => {
    const seen: string[] = [];
    const query = pg.Client.prototype.query;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (
      this: pg.Client,
      ...args: unknown[]
    ) {
      const q = args[0] as string | { name?: string; text: string };
      seen.push(typeof q === 'string' ? q.split(/\s/)[0]! : (q.name ?? q.text.split(/\s/)[0]!));
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as never);
    return seen;
  };
  const units = (subject: string, n: number, extra: object = {}) =>
    Array.from({ length: n }, (_, j) => ({
      subject,
      feature: 'stock_reports',
      ...(j % 2 ? { key: `${subject}-${j}` } : {}),
      ...extra,
    }));
  const answers = (outcomes: Awaited<ReturnType<QuotaClock['consumeMany']>>) =>
    outcomes.map((o) => (o.ok ? [o.result.granted, o.result.used] : o.error.message));

  it("grants a busy subject's batch in one statement, each item its own count", async () => {
    await one.addSubject({ id: 'busy', plan: 'pro_plus' }, { now: NOV });
    await one.consume('busy', 'stock_reports', 1, { now: NOV });
    const seen = sent();
    const out = await one.consumeMany(units('busy', 20), { now: NOV });
    expect(answers(out)).toEqual(Array.from({ length: 20 }, (_, j) => [true, j + 2]));
    // One grouped statement and no transaction.
    expect(seen.filter((x) => x.startsWith('qc_grant_groups_'))).toHaveLength(1);
    expect(seen.filter((x) => x.toUpperCase() === 'BEGIN' || x.startsWith('BEGIN'))).toHaveLength(
      0,
    );
    vi.restoreAllMocks();
    const { rows } = await scratch.client.query<{ used_after: string }>(
      `SELECT e.used_after FROM "${scratch.schema}".events e
       JOIN "${scratch.schema}".subjects s ON s.rid = e.subject_rid WHERE s.id = 'busy' ORDER BY e.used_after`,
    );
    expect(rows.map((r) => Number(r.used_after))).toEqual(
      Array.from({ length: 21 }, (_, j) => j + 1),
    );
    // The keyed ones replay with the counts they were granted at, from either pool.
    const again = await two.consumeMany(units('busy', 20), { now: NOV });
    expect(again.map((o) => o.ok && [o.result.replayed === true, o.result.used])).toEqual(
      Array.from({ length: 20 }, (_, j) => (j % 2 ? [true, j + 2] : [false, 22 + (j >> 1)])),
    );
  });

  it('decides a batch that does not fit whole item by item, in order', async () => {
    await one.addSubject({ id: 'edge', plan: 'pro_plus' }, { now: NOV });
    await one.consume('edge', 'stock_reports', 95, { now: NOV });
    const out = await one.consumeMany(units('edge', 8), { now: NOV });
    expect(answers(out)).toEqual([
      [true, 96],
      [true, 97],
      [true, 98],
      [true, 99],
      [true, 100],
      [false, 100],
      [false, 100],
      [false, 100],
    ]);
  });

  it('keeps the place of an item that can never fit, and of one on another counter', async () => {
    await one.addSubject({ id: 'mixed', plan: 'pro' }, { now: NOV });
    await one.consume('mixed', 'stock_reports', 1, { now: NOV });
    await one.consume('mixed', 'exports', 9, { now: NOV });
    await one.consume('fits', 'stock_reports', 1, { now: NOV });
    const out = await one.consumeMany(
      [
        { subject: 'mixed', feature: 'stock_reports' },
        { subject: 'fits', feature: 'stock_reports' },
        { subject: 'mixed', feature: 'stock_reports', amount: 46 },
        { subject: 'mixed', feature: 'exports', amount: 2 },
        { subject: 'mixed', feature: 'stock_reports' },
        { subject: 'fits', feature: 'stock_reports', amount: 3 },
        { subject: 'mixed', feature: 'exports' },
      ],
      { now: NOV },
    );
    expect(answers(out)).toEqual([
      [true, 2],
      [true, 2],
      [false, 2],
      [false, 9],
      [true, 3],
      [true, 5],
      [true, 10],
    ]);
  });

  it('leaves a batch with a repeated key to the transaction, which replays the second', async () => {
    await one.consume('twice', 'stock_reports', 1, { now: NOV });
    const item = { subject: 'twice', feature: 'stock_reports', key: 'k-1', fingerprint: 'a' };
    const out = await one.consumeMany([item, item, { ...item, amount: 2, fingerprint: 'b' }], {
      now: NOV,
    });
    expect(
      out.map((o) => (o.ok ? [o.result.used, o.result.replayed === true] : o.error.name)),
    ).toEqual([[2, false], [2, true], 'IdempotencyKeyReusedError']);
  });
});
