/**
 * PostgreSQL's consumeMany locks counters and writes a whole batch in one
 * transaction, from any number of processes at once. These tests hold it to
 * what the contract suite asks of every engine where only that path can
 * break: exact limits with many batches from two pools racing on one
 * counter, and keys and metadata that careless quoting would mangle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
