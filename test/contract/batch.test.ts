import { expect, it } from 'vitest';
import type { ConsumeResult, ItemOutcome } from '../../src/core/types.js';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import type { ConsumeEvent } from '../../src/observers.js';
import { at, contract } from './engines.js';

const NOV = at('2026-11-10T12:00:00Z');
const DEC = at('2026-12-01T00:00:30Z');

type Item = Parameters<QuotaClock['consumeMany']>[0][number];

/** An outcome with the error reduced to its code, so two runs can be compared. */
const comparable = (o: ItemOutcome<ConsumeResult>) =>
  o.ok ? { ok: true, result: o.result } : { ok: false, code: (o.error as { code?: string }).code };

/** The same subjects under two prefixes: one side runs single consumes, the other one batch. */
async function seed(qc: QuotaClock, p: string): Promise<void> {
  await qc.addSubject({ id: `${p}a` }, { now: NOV });
  await qc.addSubject({ id: `${p}susp` }, { now: NOV });
  await qc.consume(`${p}susp`, 'stock_reports', 2, { now: NOV });
  await qc.suspend(`${p}susp`, 'chargeback', { now: NOV });
  await qc.addSubject({ id: `${p}ent`, plan: 'enterprise' }, { now: NOV });
  await qc.addSubject({ id: `${p}ovr`, plan: 'pro' }, { now: NOV });
  await qc.setOverride(`${p}ovr`, 'stock_reports', 3, { now: NOV });
  await qc.addSubject({ id: `${p}ny`, timeZone: 'America/New_York' }, { now: NOV });
  // A key an earlier single consume used: the batch replays it.
  await qc.consume(`${p}a`, 'exports', 1, { now: NOV, key: 'early', fingerprint: 'f-early' });
}

function scenario(p: string): Item[] {
  return [
    { subject: `${p}a`, feature: 'stock_reports', amount: 3 },
    { subject: `${p}a`, feature: 'stock_reports', amount: 4, meta: { ticker: 'AAPL' } },
    { subject: `${p}a`, feature: 'stock_reports', amount: 5 },
    { subject: `${p}susp`, feature: 'stock_reports' },
    { subject: `${p}a`, feature: 'stock_reports', amount: 3, key: 'k1', fingerprint: 'f1' },
    { subject: `${p}a`, feature: 'stock_reports', amount: 3, key: 'k1', fingerprint: 'f1' },
    { subject: `${p}a`, feature: 'stock_reports', amount: 3, key: 'k1', fingerprint: 'other' },
    { subject: `${p}a`, feature: 'stock_reports', amount: 1, key: 'k2' },
    { subject: `${p}a`, feature: 'exports', amount: 1, key: 'early', fingerprint: 'f-early' },
    { subject: `${p}a`, feature: 'exports', amount: 1, key: 'early', fingerprint: 'changed' },
    { subject: `${p}a`, feature: 'exports', amount: 2 },
    { subject: `${p}a`, feature: 'exports', amount: 1 },
    { subject: `${p}new`, feature: 'stock_reports', amount: 2 },
    { subject: `${p}new`, feature: 'stock_reports', amount: 9 },
    { subject: `${p}ent`, feature: 'stock_reports', amount: 1_000_000 },
    { subject: `${p}ovr`, feature: 'stock_reports', amount: 2 },
    { subject: `${p}ovr`, feature: 'stock_reports', amount: 2 },
    { subject: `${p}ovr`, feature: 'stock_reports', amount: 1 },
    { subject: `${p}ny`, feature: 'stock_reports', amount: 1, key: 'ny-1' },
    { subject: `${p}a`, feature: 'no_such_feature' },
    { subject: `${p}a`, feature: 'stock_reports', amount: 0 },
    { subject: `${p}a`, feature: 'stock_reports', key: 'refund:x' },
  ];
}

/** What is stored for a subject: its counters and its ledger, without ids and times. */
async function stored(qc: QuotaClock, id: string, now: number) {
  const status = await qc.status(id, { now });
  const events = await qc.subjectEvents(id, { limit: 200 });
  return {
    features: status.features,
    events: events.items.map((e) => ({
      kind: e.kind,
      feature: e.feature,
      amount: e.amount,
      granted: e.granted,
      key: e.key,
      meta: e.meta,
      periodKey: e.periodKey,
    })),
  };
}

async function singly(qc: QuotaClock, items: readonly Item[], now: number) {
  const out: ItemOutcome<ConsumeResult>[] = [];
  for (const { subject, feature, amount, ...opts } of items) {
    try {
      out.push({ ok: true, result: await qc.consume(subject, feature, amount, { ...opts, now }) });
    } catch (e) {
      out.push({ ok: false, error: e as Error });
    }
  }
  return out;
}

contract('consumeMany', ({ useStore }) => {
  const ctx = useStore();
  const strictCtx = useStore({ autoCreateSubjects: false });

  it('decides and stores exactly what the same consumes one by one do', async () => {
    const { qc } = ctx;
    await seed(qc, 'one-');
    await seed(qc, 'many-');
    const one = await singly(qc, scenario('one-'), NOV);
    const many = await qc.consumeMany(scenario('many-'), { now: NOV });
    expect(many.map(comparable)).toEqual(one.map(comparable));
    // The cases the scenario is there for, so a change that breaks both sides alike still fails.
    expect(many.map((o) => (o.ok ? o.result.granted : (o.error as { code: string }).code))).toEqual(
      [
        true,
        true,
        false,
        false,
        true,
        true,
        'IDEMPOTENCY_KEY_REUSED',
        false,
        true,
        'IDEMPOTENCY_KEY_REUSED',
        false,
        true,
        true,
        false,
        true,
        true,
        false,
        true,
        true,
        'UNKNOWN_FEATURE',
        'INVALID_AMOUNT',
        'BAD_INPUT',
      ],
    );
    const results = many.map((o) => (o.ok ? o.result : null));
    expect(results[3]).toMatchObject({ reason: 'suspended', used: 2 });
    expect(results[5]).toEqual({ ...results[4], replayed: true });
    expect(results[8]).toMatchObject({ replayed: true, used: 1 });
    expect(results[14]).toMatchObject({ limit: null, remaining: null, used: 1_000_000 });
    expect(results[18]).toMatchObject({ timeZone: 'America/New_York' });
    for (const id of ['a', 'susp', 'new', 'ent', 'ovr', 'ny']) {
      expect(await stored(qc, `many-${id}`, NOV)).toEqual(await stored(qc, `one-${id}`, NOV));
    }
    expect(await qc.getSubject('many-new')).toMatchObject({ plan: 'free' });
    const store = await qc.store();
    expect(await store.verify(NOV)).toEqual([]);
  });

  it('replays its keys afterwards, from a single consume or another batch, and counts once', async () => {
    const { qc } = ctx;
    const [first] = await qc.consumeMany(
      [{ subject: 'replay', feature: 'stock_reports', amount: 4, key: 'r1', fingerprint: 'f' }],
      { now: NOV },
    );
    expect(first!.ok).toBe(true);
    const single = await qc.consume('replay', 'stock_reports', 4, {
      now: NOV + 5000,
      key: 'r1',
      fingerprint: 'f',
    });
    const first1 = first as { ok: true; result: ConsumeResult };
    expect(single).toEqual({ ...first1.result, replayed: true });
    const again = await qc.consumeMany(
      [
        { subject: 'replay', feature: 'stock_reports', amount: 4, key: 'r1', fingerprint: 'f' },
        { subject: 'replay', feature: 'stock_reports', amount: 4, key: 'r1', fingerprint: 'g' },
      ],
      { now: NOV + 9000 },
    );
    expect(again[0]).toEqual({ ok: true, result: { ...first1.result, replayed: true } });
    expect(again[1]!.ok).toBe(false);
    expect((await qc.status('replay', { now: NOV })).features.stock_reports?.used).toBe(4);
  });

  it('starts the new period across a boundary, as a single consume does', async () => {
    const { qc } = ctx;
    for (const p of ['one-b-', 'many-b-']) {
      await qc.consume(`${p}x`, 'stock_reports', 10, { now: NOV });
    }
    const items = (p: string): Item[] => [
      { subject: `${p}x`, feature: 'stock_reports', amount: 6 },
      { subject: `${p}x`, feature: 'stock_reports', amount: 6 },
    ];
    const one = await singly(qc, items('one-b-'), DEC);
    const many = await qc.consumeMany(items('many-b-'), { now: DEC });
    expect(many.map(comparable)).toEqual(one.map(comparable));
    expect(many[0]).toMatchObject({ ok: true, result: { granted: true, used: 6 } });
    expect(many[0]!.ok && many[0]!.result.period.key).toBe('2026-12');
    expect(await stored(qc, 'many-b-x', DEC)).toEqual(await stored(qc, 'one-b-x', DEC));
  });

  it('never overshoots with batches and single consumes racing, from two store instances', async () => {
    const other = createQuotaClock({ config: ctx.qc.config, store: await ctx.another() });
    const batch = (qc: QuotaClock, i: number) =>
      qc.consumeMany(
        Array.from({ length: 5 }, (_, j) => ({
          subject: 'race',
          feature: 'stock_reports',
          // Every other item keyed, one key sent by two racing batches.
          ...(j % 2 === 0 ? { key: `race-${(i % 3) * 5 + j}` } : {}),
        })),
        { now: NOV },
      );
    const outcomes = await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => batch(i % 2 === 0 ? ctx.qc : other, i)),
      ...Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? ctx.qc : other)
          .consume('race', 'stock_reports', 1, { now: NOV })
          .then((result) => [{ ok: true as const, result }]),
      ),
    ]);
    const results = outcomes.flat().map((o) => (o.ok ? o.result : null));
    const fresh = results.filter((r) => r !== null && r.granted && r.replayed !== true);
    expect(fresh).toHaveLength(10);
    expect((await ctx.qc.status('race', { now: NOV })).features.stock_reports?.used).toBe(10);
    expect(await ctx.store.verify(NOV)).toEqual([]);
  });

  it('tells observers about every item it decided', async () => {
    const seen: ConsumeEvent[] = [];
    const watched = createQuotaClock({
      config: ctx.qc.config,
      store: ctx.store,
      observers: [{ onConsume: (e) => seen.push(e) }],
    });
    const out = await watched.consumeMany(
      [
        { subject: 'obs', feature: 'stock_reports', amount: 6 },
        { subject: 'obs', feature: 'stock_reports', amount: 6 },
        { subject: 'obs', feature: 'nope' },
        { subject: 'obs', feature: 'stock_reports', amount: 4 },
      ],
      { now: NOV },
    );
    expect(seen.map((e) => [e.amount, e.result.granted, e.result.used])).toEqual([
      [6, true, 6],
      [6, false, 6],
      [4, true, 10],
    ]);
    expect(seen[2]!.result).toEqual((out[3] as { ok: true; result: ConsumeResult }).result);
  });

  it('refuses items on an unknown subject when subjects are not created on first use', async () => {
    const strict = strictCtx.qc;
    await strict.addSubject({ id: 'known' }, { now: NOV });
    const out = await strict.consumeMany(
      [
        { subject: 'unknown-x', feature: 'stock_reports' },
        { subject: 'known', feature: 'stock_reports' },
      ],
      { now: NOV },
    );
    expect(out[0]).toMatchObject({ ok: false, error: { code: 'SUBJECT_NOT_FOUND' } });
    expect(out[1]).toMatchObject({ ok: true, result: { granted: true, used: 1 } });
    expect(await strictCtx.store.getSubject('unknown-x')).toBeNull();
  });
});
