import { expect, it } from 'vitest';
import { at, contract, exportAll } from './engines.js';

const NOV = at('2026-11-10T12:00:00Z');

contract('subjects', ({ useStore }) => {
  const ctx = useStore();

  it('adds a subject with every field and refuses the same id twice', async () => {
    const { qc } = ctx;
    const s = await qc.addSubject(
      {
        id: 'alice@example.com',
        plan: 'pro',
        timeZone: 'Europe/Paris',
        email: 'alice@example.com',
        name: 'Alice',
        overrides: { exports: 50 },
      },
      { now: NOV },
    );
    expect(s).toEqual({
      id: 'alice@example.com',
      plan: 'pro',
      overrides: { exports: 50 },
      suspended: false,
      suspendedReason: null,
      timeZone: 'Europe/Paris',
      anchor: new Date(NOV).toISOString(),
      email: 'alice@example.com',
      name: 'Alice',
      createdAt: new Date(NOV).toISOString(),
    });
    expect(await qc.getSubject('alice@example.com')).toEqual(s);
    await expect(qc.addSubject({ id: 'alice@example.com' }, { now: NOV })).rejects.toMatchObject({
      code: 'SUBJECT_EXISTS',
    });
  });

  it('imports suspension and this period’s usage, once per period, as one import event each', async () => {
    const { qc, store } = ctx;
    const rows = [
      { id: 'imp-a', plan: 'pro', usage: { stock_reports: 44, exports: 0 } },
      { id: 'imp-b', suspended: true, suspendedReason: 'chargeback', usage: { exports: 3 } },
    ];
    // A dry run does the same work and rolls it back: the same answer, nothing written.
    expect(await store.upsertSubjects(rows, NOV, { dryRun: true })).toEqual({
      added: 2,
      updated: 0,
      usageImported: 2,
    });
    expect(await store.getSubject('imp-a')).toBeNull();
    expect(await qc.importSubjects(rows, { now: NOV })).toEqual({
      added: 2,
      updated: 0,
      usageImported: 2,
    });
    expect(await store.upsertSubjects(rows, NOV, { dryRun: true })).toEqual({
      added: 0,
      updated: 2,
      usageImported: 0,
    });
    const a = await qc.status('imp-a', { now: NOV });
    expect(a.features.stock_reports).toMatchObject({ used: 44, limit: 45 });
    expect(a.features.exports).toMatchObject({ used: 0 });
    const b = await qc.status('imp-b', { now: NOV });
    expect([b.suspended, b.suspendedReason, b.features.exports?.used]).toEqual([
      true,
      'chargeback',
      3,
    ]);
    // Imported usage is over the free limit of 2 exports: it is a fact, not a grant, so verify is clean.
    expect(await store.verify(NOV)).toEqual([]);
    // Again, and with a consume in between: the import counts once, the consume on top of it.
    await qc.consume('imp-a', 'stock_reports', 1, { now: NOV + 1, key: 'imp-k' });
    expect(
      await qc.importSubjects(
        [
          { ...rows[0]!, usage: { stock_reports: 44 } },
          { id: 'imp-b', suspended: false },
        ],
        {
          now: NOV + 2,
        },
      ),
    ).toEqual({ added: 0, updated: 2, usageImported: 0 });
    expect((await qc.status('imp-a', { now: NOV + 3 })).features.stock_reports?.used).toBe(45);
    expect((await qc.status('imp-b', { now: NOV + 3 })).suspended).toBe(false);
    expect(await store.verify(NOV + 3)).toEqual([]);
    // Keys of imported usage are the store's own.
    await expect(
      qc.consume('imp-a', 'stock_reports', 1, {
        now: NOV,
        key: 'quotaclock-import:2026-11:stock_reports',
      }),
    ).rejects.toMatchObject({ code: 'BAD_INPUT' });
    // The next month starts from zero; the import of November does not reach into it.
    const dec = at('2026-12-05T00:00:00Z');
    expect((await qc.status('imp-a', { now: dec })).features.stock_reports?.used).toBe(0);
  });

  it('pages through subjects in id order, optionally by plan', async () => {
    const { qc } = ctx;
    const ids = Array.from({ length: 25 }, (_, i) => `page-${String(i).padStart(2, '0')}`);
    await qc.importSubjects(
      ids.map((id, i) => ({ id, plan: i % 5 === 0 ? 'pro' : 'free' })),
      { now: NOV },
    );
    const seen: string[] = [];
    let after: string | null = 'page-';
    let pages = 0;
    do {
      const page = await qc.listSubjects({ after, limit: 10 });
      const mine = page.items.filter((s) => s.id.startsWith('page-'));
      seen.push(...mine.map((s) => s.id));
      after = mine.length === page.items.length ? page.next : null;
      pages += 1;
    } while (after !== null);
    expect(seen).toEqual(ids);
    expect(pages).toBe(3);
    const pro = await qc.listSubjects({ after: 'page-', plan: 'pro', limit: 100 });
    expect(pro.items.map((s) => s.id)).toEqual([
      'page-00',
      'page-05',
      'page-10',
      'page-15',
      'page-20',
    ]);
    expect(pro.next).toBeNull();
  });

  it('orders ids by bytes, as the SQLite store does', async () => {
    const { qc } = ctx;
    const ids = ['ord-B', 'ord-a', 'ord-_', 'ord-Z', 'ord-é', 'ord-1'];
    for (const id of ids) await qc.addSubject({ id }, { now: NOV });
    const page = await qc.listSubjects({ after: 'ord-', limit: 6 });
    const bytes = [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(page.items.map((s) => s.id)).toEqual(bytes);
  });

  it('changes the plan at once, keeping usage in the period', async () => {
    const { qc } = ctx;
    await qc.consume('upgrade', 'stock_reports', 10, { now: NOV });
    expect((await qc.consume('upgrade', 'stock_reports', 1, { now: NOV })).granted).toBe(false);
    expect(await qc.setPlan('upgrade', 'pro', { now: NOV })).toMatchObject({ plan: 'pro' });
    expect(await qc.consume('upgrade', 'stock_reports', 1, { now: NOV })).toMatchObject({
      granted: true,
      used: 11,
      limit: 45,
    });
    await qc.setPlan('upgrade', 'free', { now: NOV });
    expect(await qc.consume('upgrade', 'stock_reports', 1, { now: NOV })).toMatchObject({
      granted: false,
      used: 11,
      remaining: 0,
    });
  });

  it('imports in one step: adds, updates, keeps what a row leaves out', async () => {
    const { qc } = ctx;
    await qc.addSubject(
      { id: 'imp-1', email: 'old@example.com', overrides: { exports: 7 } },
      { now: NOV },
    );
    const r = await qc.importSubjects(
      [
        { id: 'imp-1', plan: 'pro' },
        { id: 'imp-2', plan: 'pro_plus', email: 'two@example.com' },
        { id: 'imp-2', name: 'Second' },
      ],
      { now: NOV },
    );
    expect(r).toEqual({ added: 1, updated: 2, usageImported: 0 });
    expect(await qc.getSubject('imp-1')).toMatchObject({
      plan: 'pro',
      email: 'old@example.com',
      overrides: { exports: 7 },
    });
    expect(await qc.getSubject('imp-2')).toMatchObject({
      plan: 'free',
      email: 'two@example.com',
      name: 'Second',
    });
  });

  it('keeps a history per period, closed ones with the plan and limits of the time', async () => {
    const { qc, store } = ctx;
    await qc.addSubject({ id: 'hist', plan: 'pro' }, { now: at('2026-09-15T00:00:00Z') });
    await qc.consume('hist', 'stock_reports', 7, { now: at('2026-09-20T00:00:00Z') });
    await qc.consume('hist', 'exports', 1, { now: at('2026-10-20T00:00:00Z') });
    await qc.consume('hist', 'stock_reports', 2, { now: at('2026-11-05T00:00:00Z') });
    expect(await qc.history('hist')).toEqual([
      {
        key: '2026-11',
        start: '2026-11-01T00:00:00.000Z',
        end: '2026-12-01T00:00:00.000Z',
        closed: false,
        plan: null,
        features: { exports: { limit: 10, used: 0 }, stock_reports: { limit: 45, used: 2 } },
      },
      {
        key: '2026-10',
        start: '2026-10-01T00:00:00.000Z',
        end: '2026-11-01T00:00:00.000Z',
        closed: false,
        plan: null,
        features: { exports: { limit: 10, used: 1 }, stock_reports: { limit: 45, used: 0 } },
      },
      {
        key: '2026-09',
        start: '2026-09-01T00:00:00.000Z',
        end: '2026-10-01T00:00:00.000Z',
        closed: false,
        plan: null,
        features: { exports: { limit: 10, used: 0 }, stock_reports: { limit: 45, used: 7 } },
      },
    ]);
    // Close September, then change the plan: the closed period keeps the old plan and limits.
    const now = at('2026-11-06T00:00:00Z');
    let cursor: string | null = null;
    do {
      const b = await store.closeBatch({
        key: '2026-09',
        nowMs: now,
        cursor,
        batchSize: 1000,
        write: true,
      });
      cursor = b.cursor;
    } while (cursor !== null);
    await qc.setPlan('hist', 'free', { now });
    const h = await qc.history('hist');
    expect(h.find((e) => e.key === '2026-09')).toMatchObject({
      closed: true,
      plan: 'pro',
      features: { stock_reports: { limit: 45, used: 7 } },
    });
    expect(h.find((e) => e.key === '2026-11')).toMatchObject({
      closed: false,
      features: { stock_reports: { limit: 10, used: 2 } },
    });
  });
});

contract('bad input', ({ useStore }) => {
  const ctx = useStore();

  it('is refused with a coded error naming the field, and writes nothing', async () => {
    const { qc, store } = ctx;
    await qc.addSubject({ id: 'keeper', plan: 'pro' }, { now: NOV });
    const before = await exportAll(store);
    const cases: Array<[() => Promise<unknown>, string, string?]> = [
      [
        () => qc.consume('keeper', 'no_such_feature', 1, { now: NOV }),
        'UNKNOWN_FEATURE',
        'feature',
      ],
      [() => qc.consume('keeper', 'stock_reports', 0, { now: NOV }), 'INVALID_AMOUNT', 'amount'],
      [() => qc.consume('keeper', 'stock_reports', -2, { now: NOV }), 'INVALID_AMOUNT', 'amount'],
      [() => qc.consume('keeper', 'stock_reports', 1.5, { now: NOV }), 'INVALID_AMOUNT', 'amount'],
      [() => qc.consume('has space', 'stock_reports', 1, { now: NOV }), 'BAD_INPUT', 'subject'],
      [
        () => qc.consume('keeper', 'stock_reports', 1, { now: NOV, key: 'k'.repeat(201) }),
        'BAD_INPUT',
        'key',
      ],
      [
        () =>
          qc.consume('keeper', 'stock_reports', 1, {
            now: NOV,
            meta: [1, 2] as unknown as Record<string, unknown>,
          }),
        'BAD_INPUT',
        'meta',
      ],
      [() => qc.addSubject({ id: 'new-1', plan: 'platinum' }, { now: NOV }), 'UNKNOWN_PLAN'],
      [
        () => qc.addSubject({ id: 'new-2', timeZone: 'Mars/Olympus' }, { now: NOV }),
        'INVALID_TIME_ZONE',
      ],
      [() => qc.addSubject({ id: 'new-3', email: 'not-an-email' }, { now: NOV }), 'BAD_INPUT'],
      [() => qc.setPlan('keeper', 'platinum', { now: NOV }), 'UNKNOWN_PLAN'],
      [() => qc.setPlan('nobody', 'pro', { now: NOV }), 'SUBJECT_NOT_FOUND'],
      [() => qc.setOverride('keeper', 'stock_reports', -1, { now: NOV }), 'BAD_INPUT'],
      [() => qc.setOverride('keeper', 'nope', 1, { now: NOV }), 'UNKNOWN_FEATURE'],
      [() => qc.suspend('nobody', 'x', { now: NOV }), 'SUBJECT_NOT_FOUND'],
      [
        () =>
          qc.importSubjects(
            [{ id: 'bulk-1' }, { id: 'bulk-2', plan: 'pro' }, { id: 'bulk-3', plan: 'gold' }],
            { now: NOV },
          ),
        'UNKNOWN_PLAN',
        'rows[2].plan',
      ],
      [
        () =>
          qc.importSubjects([{ id: 'bulk-4' }, { id: 'keeper', timeZone: 'Asia/Tokyo' }], {
            now: NOV,
          }),
        'BAD_INPUT',
        'rows[1].timeZone',
      ],
      [() => store.importRecords([{ type: 'subject', id: 'restored' }]), 'BAD_INPUT', 'restore'],
    ];
    for (const [promise, code, where] of cases) {
      const err = await promise().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, `expected ${code}`).toMatchObject({ code, ...(where ? { where } : {}) });
    }
    expect(await exportAll(store)).toEqual(before);
  });

  it('refuses a restore whose records are wrong, whole', async () => {
    const { engine } = ctx;
    const fresh = await engine.create();
    const store = await fresh.open(ctx.policy);
    try {
      await store.migrate();
      await expect(
        store.importRecords([
          {
            type: 'subject',
            id: 'r1',
            plan: 'free',
            overrides: {},
            suspended: false,
            suspendedReason: null,
            timeZone: null,
            anchor: '2026-11-01T00:00:00.000Z',
            email: null,
            name: null,
            createdAt: '2026-11-01T00:00:00.000Z',
            closedThrough: '2026-11-01T00:00:00.000Z',
            openEnd: '2026-12-01T00:00:00.000Z',
            openKey: '2026-11',
          },
          {
            type: 'counter',
            subject: 'r2',
            feature: 'stock_reports',
            periodStart: '2026-11-01T00:00:00.000Z',
            periodEnd: '2026-12-01T00:00:00.000Z',
            periodKey: '2026-11',
            used: 1,
          },
        ]),
      ).rejects.toMatchObject({ code: 'BAD_INPUT', where: 'restore' });
      expect(await exportAll(store)).toEqual([]);
    } finally {
      await store.close();
      await fresh.destroy();
    }
  });
});
