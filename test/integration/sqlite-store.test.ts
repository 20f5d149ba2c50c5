/**
 * The quota engine on a real SQLite file, through the one service object
 * (createQuotaClock). Every check of what was written reads the file through
 * a second, independent better-sqlite3 connection.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/store/sqlite/driver.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import type { QuotaClockConfigInput } from '../../src/config/schema.js';
import type { ErrorCode } from '../../src/core/errors.js';
import type { QuotaStore } from '../../src/store/quota-store.js';

const F = 'stock_reports';
const at = (iso: string) => {
  const v = Date.parse(iso);
  if (Number.isNaN(v)) throw new Error(`bad fixture instant ${iso}`);
  return v;
};
const NOW = at('2026-11-15T12:00:00Z');
const NOV = { key: '2026-11', start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' };
/** What every answer at NOW adds to its period: the zone and the whole seconds left until it ends. */
const AT_NOW = { timeZone: 'UTC', secondsLeft: (Date.parse(NOV.end) - NOW) / 1000 };
const DEC = { key: '2026-12', start: '2026-12-01T00:00:00.000Z', end: '2027-01-01T00:00:00.000Z' };

let dir: string;
let dbPath: string;
const open: QuotaClock[] = [];

async function makeClock(
  config: QuotaClockConfigInput = {},
  clock = () => NOW,
): Promise<QuotaClock> {
  const qc = createQuotaClock({ config: { store: `sqlite:${dbPath}`, ...config }, clock });
  open.push(qc);
  await qc.init();
  return qc;
}

/** Reads the file through its own connection: what any other process would see. */
function inspect<T>(fn: (db: Database) => T): T {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const TABLES = ['subjects', 'counters', 'events', 'closed_periods', 'runs', 'audit'] as const;

/** Row counts of every data table plus a digest of subjects and counters: any write changes it. */
function snapshot() {
  return inspect((db) => ({
    ...Object.fromEntries(
      TABLES.map((t) => [
        t,
        (db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n,
      ]),
    ),
    subjectRows: db.prepare('SELECT * FROM subjects ORDER BY rid').all(),
    counterRows: db
      .prepare('SELECT * FROM counters ORDER BY subject_rid, period_start_ms, feature')
      .all(),
  }));
}

/** Counter vs. sum of its events, for every counter and every event group, read straight from the file. */
function counterEventMismatches() {
  return inspect((db) =>
    db
      .prepare(
        `SELECT s.id, x.period_start_ms, x.feature, x.used, x.total FROM (
           SELECT c.subject_rid, c.period_start_ms, c.feature, c.used,
                  (SELECT COALESCE(SUM(e.delta), 0) FROM events e WHERE e.subject_rid = c.subject_rid
                     AND e.period_start_ms = c.period_start_ms AND e.feature = c.feature) AS total
             FROM counters c
           UNION ALL
           SELECT e.subject_rid, e.period_start_ms, e.feature, 0, SUM(e.delta) FROM events e
            WHERE NOT EXISTS (SELECT 1 FROM counters c WHERE c.subject_rid = e.subject_rid
                                AND c.period_start_ms = e.period_start_ms AND c.feature = e.feature)
            GROUP BY e.subject_rid, e.period_start_ms, e.feature
         ) x JOIN subjects s ON s.rid = x.subject_rid WHERE x.used <> x.total`,
      )
      .all(),
  );
}

async function integrityProblems(qc: QuotaClock, nowMs = NOW) {
  const store: QuotaStore = await qc.store();
  const violations = await store.verify(nowMs);
  return violations.filter((v) => v.kind === 'counter_mismatch' || v.kind === 'over_limit');
}

/** Asserts that fn fails with a coded error and that the database file did not change. */
async function refusedWithoutWrite(
  fn: () => Promise<unknown>,
  code: ErrorCode,
  where?: string | RegExp,
): Promise<void> {
  const before = snapshot();
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toMatchObject({ code });
  if (where !== undefined) {
    const w = (caught as { where?: string }).where ?? '';
    if (typeof where === 'string') expect(w).toBe(where);
    else expect(w).toMatch(where);
  }
  expect(snapshot()).toEqual(before);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'quotaclock-sqlite-it-'));
  dbPath = join(dir, 'store.db');
});

afterEach(async () => {
  for (const qc of open.splice(0)) await qc.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('consume up to the limit', () => {
  it('free = 10: ten single units are granted, the eleventh is denied with quota_exceeded', async () => {
    const qc = await makeClock();
    for (let i = 1; i <= 10; i += 1) {
      expect(await qc.consume('alice', F)).toEqual({
        granted: true,
        used: i,
        limit: 10,
        remaining: 10 - i,
        period: NOV,
        ...AT_NOW,
      });
    }
    expect(await qc.consume('alice', F)).toEqual({
      granted: false,
      used: 10,
      limit: 10,
      remaining: 0,
      period: NOV,
      ...AT_NOW,
      reason: 'quota_exceeded',
    });
    const status = await qc.status('alice');
    expect(status.features[F]).toEqual({ limit: 10, used: 10, remaining: 0, unlimited: false });
    expect(status.plan).toBe('free');
    expect(status.period).toEqual(NOV);
    // The file agrees: one counter at 10, eleven events of which ten granted one unit each.
    expect(inspect((db) => db.prepare('SELECT used, period_key FROM counters').all())).toEqual([
      { used: 10, period_key: '2026-11' },
    ]);
    expect(
      inspect((db) =>
        db
          .prepare("SELECT COUNT(*) AS n, SUM(delta) AS d FROM events WHERE kind = 'consume'")
          .get(),
      ),
    ).toEqual({ n: 11, d: 10 });
    expect(await integrityProblems(qc)).toEqual([]);
  });

  it('never grants part of an amount: 9 + 2 is denied, 9 + 1 is granted', async () => {
    const qc = await makeClock();
    expect((await qc.consume('bob', F, 9)).granted).toBe(true);
    expect(await qc.consume('bob', F, 2)).toMatchObject({
      granted: false,
      used: 9,
      remaining: 1,
      reason: 'quota_exceeded',
    });
    expect(await qc.consume('bob', F, 1)).toMatchObject({ granted: true, used: 10, remaining: 0 });
    // An amount above the whole limit is denied on an empty counter too.
    expect(await qc.consume('carol', F, 11)).toMatchObject({
      granted: false,
      used: 0,
      reason: 'quota_exceeded',
    });
    expect(await qc.consume('carol', F, 10)).toMatchObject({ granted: true, used: 10 });
  });

  it('pro = 45 and pro_plus = 100 come from the plans', async () => {
    const qc = await makeClock();
    await qc.addSubject({ id: 'p', plan: 'pro' });
    await qc.addSubject({ id: 'pp', plan: 'pro_plus' });
    expect(await qc.consume('p', F, 45)).toMatchObject({
      granted: true,
      used: 45,
      limit: 45,
      remaining: 0,
    });
    expect(await qc.consume('p', F)).toMatchObject({ granted: false, reason: 'quota_exceeded' });
    expect(await qc.consume('pp', F, 100)).toMatchObject({ granted: true, used: 100, limit: 100 });
    expect(await qc.consume('pp', F)).toMatchObject({ granted: false, reason: 'quota_exceeded' });
  });

  it('enterprise is unlimited: every consume is granted, limit and remaining are null', async () => {
    const qc = await makeClock();
    await qc.addSubject({ id: 'ent', plan: 'enterprise' });
    let last;
    for (let i = 0; i < 30; i += 1) last = await qc.consume('ent', F, 1000);
    expect(last).toEqual({
      granted: true,
      used: 30_000,
      limit: null,
      remaining: null,
      period: NOV,
      ...AT_NOW,
    });
    expect((await qc.status('ent')).features[F]).toEqual({
      limit: null,
      used: 30_000,
      remaining: null,
      unlimited: true,
    });
    expect(await integrityProblems(qc)).toEqual([]);
  });

  it('stores the metadata with the event', async () => {
    const qc = await makeClock();
    await qc.consume('meta', F, 1, {
      meta: { ticker: 'AAPL', report_id: 'r-1', generation_time_ms: 812 },
    });
    const row = inspect((db) => db.prepare('SELECT meta, at_ms FROM events').get()) as {
      meta: string;
      at_ms: number;
    };
    expect(JSON.parse(row.meta)).toEqual({
      ticker: 'AAPL',
      report_id: 'r-1',
      generation_time_ms: 812,
    });
    expect(row.at_ms).toBe(NOW);
  });

  it('check() reads without consuming', async () => {
    const qc = await makeClock();
    await qc.consume('chk', F, 9);
    const before = snapshot();
    // API.md: check answers with the period too.
    expect(await qc.check('chk', F)).toEqual({
      allowed: true,
      limit: 10,
      used: 9,
      remaining: 1,
      period: expect.objectContaining({ key: expect.any(String), start: expect.any(String) }),
      ...AT_NOW,
    });
    expect(await qc.check('chk', F, 2)).toMatchObject({ allowed: false, reason: 'quota_exceeded' });
    expect(snapshot()).toEqual(before);
  });
});

describe('subjects, plans, overrides and suspension', () => {
  it('auto-creates an unknown subject on the default plan on first consume, with an audit row', async () => {
    const qc = await makeClock();
    await qc.consume('newbie', F);
    expect(await qc.getSubject('newbie')).toMatchObject({
      id: 'newbie',
      plan: 'free',
      suspended: false,
    });
    expect(
      inspect((db) =>
        db.prepare("SELECT action, subject FROM audit WHERE subject = 'newbie'").all(),
      ),
    ).toEqual([{ action: 'subject.auto_create', subject: 'newbie' }]);
  });

  it('with autoCreateSubjects: false an unknown subject is refused and nothing is written', async () => {
    const qc = await makeClock({ autoCreateSubjects: false });
    await refusedWithoutWrite(() => qc.consume('stranger', F), 'SUBJECT_NOT_FOUND');
    await refusedWithoutWrite(() => qc.status('stranger'), 'SUBJECT_NOT_FOUND');
    await qc.addSubject({ id: 'known' });
    expect((await qc.consume('known', F)).granted).toBe(true);
  });

  it('overrides beat the plan: a lower cap, zero, unlimited, and removal back to the plan', async () => {
    const qc = await makeClock();
    await qc.addSubject({ id: 'o', overrides: { [F]: 3 } });
    for (let i = 0; i < 3; i += 1) expect((await qc.consume('o', F)).granted).toBe(true);
    expect(await qc.consume('o', F)).toMatchObject({
      granted: false,
      limit: 3,
      reason: 'quota_exceeded',
    });

    await qc.setOverride('o', F, null);
    expect(await qc.consume('o', F, 50)).toMatchObject({
      granted: true,
      used: 53,
      limit: null,
      remaining: null,
    });

    await qc.setOverride('o', F, 0);
    expect(await qc.consume('o', F)).toMatchObject({
      granted: false,
      limit: 0,
      reason: 'quota_exceeded',
    });

    await qc.setOverride('o', F, undefined);
    expect((await qc.getSubject('o')).overrides).toEqual({});
    expect(await qc.consume('o', F)).toMatchObject({ granted: false, limit: 10, used: 53 });

    await qc.setOverride('o', F, 60);
    expect(await qc.consume('o', F, 7)).toMatchObject({
      granted: true,
      used: 60,
      limit: 60,
      remaining: 0,
    });
    expect(await integrityProblems(qc)).toEqual([]);
  });

  it('a raised override on an enterprise subject caps it', async () => {
    const qc = await makeClock();
    await qc.addSubject({ id: 'capped', plan: 'enterprise', overrides: { [F]: 2 } });
    expect((await qc.consume('capped', F, 2)).granted).toBe(true);
    expect(await qc.consume('capped', F)).toMatchObject({ granted: false, limit: 2 });
  });

  it('setPlan changes the limit mid-period and keeps the usage; an unknown plan is refused', async () => {
    const qc = await makeClock();
    await qc.consume('up', F, 10);
    expect((await qc.consume('up', F)).granted).toBe(false);
    await qc.setPlan('up', 'pro');
    expect(await qc.consume('up', F)).toMatchObject({ granted: true, used: 11, limit: 45 });
    await refusedWithoutWrite(() => qc.setPlan('up', 'platinum'), 'UNKNOWN_PLAN');
    expect((await qc.getSubject('up')).plan).toBe('pro');
    await refusedWithoutWrite(() => qc.setPlan('nobody', 'pro'), 'SUBJECT_NOT_FOUND');
  });

  it('suspension denies with reason suspended and counts nothing; unsuspend restores', async () => {
    const qc = await makeClock();
    await qc.consume('sus', F, 4);
    await qc.suspend('sus', 'chargeback');
    expect(await qc.consume('sus', F)).toEqual({
      granted: false,
      used: 4,
      limit: 10,
      remaining: 6,
      period: NOV,
      ...AT_NOW,
      reason: 'suspended',
    });
    const s = await qc.status('sus');
    expect(s).toMatchObject({ suspended: true, suspendedReason: 'chargeback' });
    expect(s.features[F]!.used).toBe(4);
    expect(await qc.check('sus', F)).toMatchObject({ allowed: false, reason: 'suspended' });
    await qc.unsuspend('sus');
    expect(await qc.consume('sus', F)).toMatchObject({ granted: true, used: 5 });
    expect((await qc.getSubject('sus')).suspendedReason).toBeNull();
    expect(
      inspect((db) =>
        db
          .prepare(
            "SELECT action FROM audit WHERE subject = 'sus' AND action LIKE 'subject.%suspend' ORDER BY id",
          )
          .all(),
      ),
    ).toEqual([{ action: 'subject.suspend' }, { action: 'subject.unsuspend' }]);
  });

  it('lists subjects in pages with a cursor, optionally by plan', async () => {
    const qc = await makeClock();
    const ids = Array.from({ length: 25 }, (_, i) => `user-${String(i).padStart(2, '0')}`);
    for (const [i, id] of ids.entries())
      await qc.addSubject({ id, plan: i % 5 === 0 ? 'pro' : 'free' });
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const page = await qc.listSubjects({ limit: 10, after });
      expect(page.items.length).toBeLessThanOrEqual(10);
      seen.push(...page.items.map((s) => s.id));
      after = page.next;
      pages += 1;
    } while (after !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
    const pro = await qc.listSubjects({ plan: 'pro', limit: 100 });
    expect(pro.items.map((s) => s.id)).toEqual(ids.filter((_, i) => i % 5 === 0));
    expect(pro.next).toBeNull();
    // Exactly one full page: no phantom next page.
    expect((await qc.listSubjects({ plan: 'pro', limit: 5 })).next).toBeNull();
    await expect(qc.listSubjects({ plan: 'gold' })).rejects.toMatchObject({ code: 'UNKNOWN_PLAN' });
  });

  it('addSubject twice is refused with SUBJECT_EXISTS and changes nothing', async () => {
    const qc = await makeClock();
    await qc.addSubject({ id: 'dup', plan: 'pro' });
    await refusedWithoutWrite(() => qc.addSubject({ id: 'dup', plan: 'free' }), 'SUBJECT_EXISTS');
  });
});

describe('idempotency keys', () => {
  it('a retried key returns the first outcome with replayed: true and counts once', async () => {
    const qc = await makeClock();
    const first = await qc.consume('idem', F, 3, { key: 'req-1' });
    expect(first).toMatchObject({ granted: true, used: 3 });
    expect(first.replayed).toBeUndefined();
    const before = snapshot();
    const again = await qc.consume('idem', F, 3, { key: 'req-1' });
    expect(again).toEqual({ ...first, replayed: true });
    expect(snapshot()).toEqual(before);
    // Even a retry with other arguments, later, replays the first outcome.
    expect(
      await qc.consume('idem', F, 1, { key: 'req-1', now: at('2026-11-20T00:00:00Z') }),
    ).toEqual({
      ...first,
      replayed: true,
    });
    expect((await qc.status('idem')).features[F]!.used).toBe(3);
    // Keys are per subject.
    expect(await qc.consume('other', F, 3, { key: 'req-1' })).toMatchObject({
      granted: true,
      used: 3,
    });
    expect(
      inspect((db) =>
        db.prepare("SELECT COUNT(*) AS n FROM events WHERE idem_key = 'req-1'").get(),
      ),
    ).toEqual({ n: 2 });
  });

  it('a denied first outcome is replayed as denied even after room frees up', async () => {
    const qc = await makeClock();
    await qc.consume('den', F, 9, { key: 'fill' });
    const denied = await qc.consume('den', F, 2, { key: 'big' });
    expect(denied).toMatchObject({ granted: false, used: 9, reason: 'quota_exceeded' });
    await qc.refund('den', 'fill');
    expect((await qc.status('den')).features[F]!.used).toBe(0);
    const before = snapshot();
    expect(await qc.consume('den', F, 2, { key: 'big' })).toEqual({ ...denied, replayed: true });
    expect(snapshot()).toEqual(before);
  });

  it('a first outcome denied for suspension is replayed after unsuspend', async () => {
    const qc = await makeClock();
    await qc.addSubject({ id: 'sk' });
    await qc.suspend('sk');
    const denied = await qc.consume('sk', F, 1, { key: 'k' });
    expect(denied.reason).toBe('suspended');
    await qc.unsuspend('sk');
    expect(await qc.consume('sk', F, 1, { key: 'k' })).toEqual({ ...denied, replayed: true });
    expect((await qc.status('sk')).features[F]!.used).toBe(0);
  });

  it('a key replays across the month boundary with the first period', async () => {
    const qc = await makeClock();
    const first = await qc.consume('edge', F, 1, {
      key: 'late',
      now: at('2026-11-30T23:59:59.999Z'),
    });
    expect(first.period).toEqual(NOV);
    const retry = await qc.consume('edge', F, 1, {
      key: 'late',
      now: at('2026-12-01T00:00:00.500Z'),
    });
    expect(retry).toEqual({ ...first, replayed: true });
    expect((await qc.status('edge', { now: at('2026-12-02T00:00:00Z') })).features[F]!.used).toBe(
      0,
    );
  });
});

// The other refund edge cases run on every engine: test/contract/refund-edges.test.ts.
describe('refunds', () => {
  it('refunds in the period where the consume happened, even when called after the boundary', async () => {
    const qc = await makeClock();
    await qc.consume('late', F, 5, { now: at('2026-11-10T00:00:00Z') });
    await qc.consume('late', F, 1, { key: 'last-nov', now: at('2026-11-30T23:59:59.999Z') });
    await qc.consume('late', F, 2, { now: at('2026-12-01T00:00:00Z') });
    const r = await qc.refund('late', 'last-nov', { now: at('2026-12-01T00:00:05Z') });
    expect(r).toEqual({
      refunded: true,
      amount: 1,
      used: 5,
      period: NOV,
      timeZone: 'UTC',
      secondsLeft: 0,
    });
    const history = await qc.history('late');
    const byKey = Object.fromEntries(history.map((h) => [h.key, h.features[F]!.used]));
    expect(byKey).toEqual({ '2026-11': 5, '2026-12': 2 });
    expect((await qc.status('late', { now: at('2026-12-02T00:00:00Z') })).features[F]!.used).toBe(
      2,
    );
    // The refund event is filed under November although it happened in December.
    expect(
      inspect((db) =>
        db.prepare("SELECT period_start_ms, at_ms, delta FROM events WHERE kind = 'refund'").all(),
      ),
    ).toEqual([{ period_start_ms: at(NOV.start), at_ms: at('2026-12-01T00:00:05Z'), delta: -1 }]);
    expect(await integrityProblems(qc, at('2026-12-02T00:00:00Z'))).toEqual([]);
  });

  it('refunding a denied consume gives nothing back', async () => {
    const qc = await makeClock();
    await qc.consume('nope', F, 10);
    await qc.consume('nope', F, 1, { key: 'denied' });
    expect(await qc.refund('nope', 'denied')).toMatchObject({
      refunded: false,
      amount: 0,
      used: 10,
    });
    expect((await qc.status('nope')).features[F]!.used).toBe(10);
  });
});

// The signup-anchor rollover runs on every engine: test/contract/signup-rollover.test.ts.
describe('rollover without any reset job', () => {
  it('the first consume after the boundary sees a fresh period; the old one stays in history', async () => {
    const qc = await makeClock();
    await qc.consume('roll', F, 10, { now: at('2026-11-20T00:00:00Z') });
    expect(await qc.consume('roll', F, 1, { now: at('2026-11-30T23:59:59.999Z') })).toMatchObject({
      granted: false,
      reason: 'quota_exceeded',
    });
    expect(await qc.consume('roll', F, 1, { now: at('2026-12-01T00:00:00.000Z') })).toEqual({
      granted: true,
      used: 1,
      limit: 10,
      remaining: 9,
      period: DEC,
      timeZone: 'UTC',
      secondsLeft: 31 * 24 * 3600,
    });
    expect(inspect((db) => db.prepare('SELECT COUNT(*) AS n FROM runs').get())).toEqual({ n: 0 });
    const history = await qc.history('roll');
    expect(
      history.map((h) => ({ key: h.key, used: h.features[F]!.used, closed: h.closed })),
    ).toEqual([
      { key: '2026-12', used: 1, closed: false },
      { key: '2026-11', used: 10, closed: false },
    ]);
    // Several missed months later: still a fresh period.
    expect(await qc.consume('roll', F, 10, { now: at('2027-04-15T00:00:00Z') })).toMatchObject({
      granted: true,
      used: 10,
      period: { key: '2027-04' },
    });
    const violations = await (await qc.store()).verify(at('2027-04-15T00:00:00Z'));
    expect(violations.filter((v) => v.kind !== 'open_period')).toEqual([]);
  });

  it('uses the subject time zone for the boundary', async () => {
    const qc = await makeClock();
    await qc.addSubject({ id: 'ny', timeZone: 'America/New_York' });
    await qc.consume('ny', F, 10, { now: at('2026-11-20T00:00:00Z') });
    // 04:59:59Z on Dec 1 is still Nov 30 in New York.
    expect(await qc.consume('ny', F, 1, { now: at('2026-12-01T04:59:59.999Z') })).toMatchObject({
      granted: false,
      period: { key: '2026-11', end: '2026-12-01T05:00:00.000Z' },
    });
    expect(await qc.consume('ny', F, 1, { now: at('2026-12-01T05:00:00.000Z') })).toMatchObject({
      granted: true,
      used: 1,
      period: { key: '2026-12', start: '2026-12-01T05:00:00.000Z' },
    });
  });
});

describe('manual reset', () => {
  it('zeroes the current period, records reset events, and counters stay equal to the sum of events', async () => {
    const qc = await makeClock();
    await qc.consume('mr', F, 7);
    await qc.consume('mr', F, 1, { key: 'a' });
    const result = await qc.resetSubject('mr', { reason: 'support ticket 42' });
    expect(result).toEqual({ subject: 'mr', period: NOV, cleared: { [F]: 8 } });
    expect((await qc.status('mr')).features[F]!.used).toBe(0);
    expect(
      inspect((db) =>
        db.prepare("SELECT amount, delta, used_after, meta FROM events WHERE kind = 'reset'").all(),
      ),
    ).toEqual([
      {
        amount: 8,
        delta: -8,
        used_after: 0,
        meta: JSON.stringify({ reason: 'support ticket 42' }),
      },
    ]);
    expect(
      inspect((db) =>
        db.prepare("SELECT COUNT(*) AS n FROM audit WHERE action = 'subject.reset'").get(),
      ),
    ).toEqual({
      n: 1,
    });
    // The full limit is available again.
    expect(await qc.consume('mr', F, 10)).toMatchObject({ granted: true, used: 10 });
    await qc.refund('mr', 'a');
    await qc.resetSubject('mr');
    await qc.consume('mr', F, 2);
    expect(counterEventMismatches()).toEqual([]);
    expect(await integrityProblems(qc)).toEqual([]);
    expect((await qc.status('mr')).features[F]!.used).toBe(2);
  });

  it('a dry run reports what it would clear and writes nothing', async () => {
    const qc = await makeClock();
    await qc.consume('dry', F, 6);
    const before = snapshot();
    expect(await qc.resetSubject('dry', { dryRun: true })).toEqual({
      subject: 'dry',
      period: NOV,
      cleared: { [F]: 6 },
    });
    expect(snapshot()).toEqual(before);
  });

  it('only touches the current period', async () => {
    const qc = await makeClock();
    await qc.consume('cur', F, 4, { now: at('2026-10-10T00:00:00Z') });
    await qc.consume('cur', F, 3);
    await qc.resetSubject('cur');
    const used = Object.fromEntries(
      (await qc.history('cur')).map((h) => [h.key, h.features[F]!.used]),
    );
    expect(used).toEqual({ '2026-10': 4, '2026-11': 0 });
  });
});

describe('bad input is refused with a coded error and no write', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])(
    'amount %s → INVALID_AMOUNT',
    async (amount) => {
      const qc = await makeClock();
      await qc.consume('existing', F, 1);
      await refusedWithoutWrite(
        () => qc.consume('existing', F, amount),
        'INVALID_AMOUNT',
        'amount',
      );
      // Nor is an unknown subject auto-created by a refused call.
      await refusedWithoutWrite(() => qc.consume('would-be-created', F, amount), 'INVALID_AMOUNT');
    },
  );

  it('an amount that is not a number → INVALID_AMOUNT', async () => {
    const qc = await makeClock();
    await refusedWithoutWrite(() => qc.consume('x', F, '1' as unknown as number), 'INVALID_AMOUNT');
  });

  it('an unknown feature → UNKNOWN_FEATURE', async () => {
    const qc = await makeClock();
    await qc.consume('existing', F, 1);
    await refusedWithoutWrite(
      () => qc.consume('existing', 'crypto_reports'),
      'UNKNOWN_FEATURE',
      'feature',
    );
    await refusedWithoutWrite(
      () => qc.consume('would-be-created', 'crypto_reports'),
      'UNKNOWN_FEATURE',
    );
    await refusedWithoutWrite(
      () => qc.setOverride('existing', 'crypto_reports', 5),
      'UNKNOWN_FEATURE',
    );
  });

  it('an unknown plan → UNKNOWN_PLAN, naming the field', async () => {
    const qc = await makeClock();
    await refusedWithoutWrite(
      () => qc.addSubject({ id: 'np', plan: 'diamond' }),
      'UNKNOWN_PLAN',
      'subject.plan',
    );
    await qc.addSubject({ id: 'np' });
    await refusedWithoutWrite(() => qc.setPlan('np', 'diamond'), 'UNKNOWN_PLAN', 'plan');
  });

  it('an invalid time zone on addSubject → INVALID_TIME_ZONE naming subject.timeZone', async () => {
    const qc = await makeClock();
    for (const zone of ['Mars/Olympus_Mons', '+05:30', 'EST5EDT6']) {
      await refusedWithoutWrite(
        () => qc.addSubject({ id: 'tz', timeZone: zone }),
        'INVALID_TIME_ZONE',
        'subject.timeZone',
      );
    }
    expect(await qc.addSubject({ id: 'tz', timeZone: 'Asia/Kolkata' })).toMatchObject({
      timeZone: 'Asia/Kolkata',
    });
  });

  it('bad subject ids, keys, metadata, overrides and e-mail → BAD_INPUT with the field', async () => {
    const qc = await makeClock();
    await refusedWithoutWrite(() => qc.consume('', F), 'BAD_INPUT', 'subject');
    await refusedWithoutWrite(() => qc.consume('has space', F), 'BAD_INPUT', 'subject');
    await refusedWithoutWrite(() => qc.consume('x'.repeat(201), F), 'BAD_INPUT', 'subject');
    await refusedWithoutWrite(() => qc.consume('ok', F, 1, { key: '' }), 'BAD_INPUT', 'key');
    await refusedWithoutWrite(
      () => qc.consume('ok', F, 1, { key: 'k'.repeat(201) }),
      'BAD_INPUT',
      'key',
    );
    await refusedWithoutWrite(
      () =>
        qc.consume('ok', F, 1, {
          meta: ['not', 'an', 'object'] as unknown as Record<string, unknown>,
        }),
      'BAD_INPUT',
      'meta',
    );
    await refusedWithoutWrite(
      () => qc.consume('ok', F, 1, { meta: { blob: 'x'.repeat(17 * 1024) } }),
      'BAD_INPUT',
      'meta',
    );
    await refusedWithoutWrite(() => qc.refund('ok', ''), 'BAD_INPUT', 'key');
    await refusedWithoutWrite(
      () => qc.addSubject({ id: 'o', overrides: { [F]: -1 } }),
      'BAD_INPUT',
      'subject.overrides.stock_reports',
    );
    await refusedWithoutWrite(
      () => qc.addSubject({ id: 'o', email: 'not-an-email' }),
      'BAD_INPUT',
      'subject.email',
    );
    await refusedWithoutWrite(
      () => qc.addSubject({ id: 'o', anchor: 'last tuesday' }),
      'BAD_INPUT',
      'subject.anchor',
    );
    await qc.addSubject({ id: 'o' });
    await refusedWithoutWrite(() => qc.setOverride('o', F, 1.5), 'BAD_INPUT', 'limit');
  });

  it('an import with one bad row writes none of the rows', async () => {
    const qc = await makeClock();
    await refusedWithoutWrite(
      () =>
        qc.importSubjects([
          { id: 'i1', plan: 'pro' },
          { id: 'i2', plan: 'nonexistent' },
          { id: 'i3' },
        ]),
      'UNKNOWN_PLAN',
      'rows[1].plan',
    );
    expect(await qc.importSubjects([{ id: 'i1', plan: 'pro' }, { id: 'i3' }])).toEqual({
      added: 2,
      updated: 0,
      usageImported: 0,
    });
  });

  it('a config error names its path and never opens or writes the store', async () => {
    const qc = await makeClock();
    await qc.consume('before', F, 2);
    const before = snapshot();
    let caught: unknown;
    try {
      createQuotaClock({
        config: { store: `sqlite:${dbPath}`, plans: { free: { limits: { [F]: -1 } } } },
      });
    } catch (e) {
      caught = e;
    }
    expect(caught).toMatchObject({
      code: 'CONFIG_INVALID',
      details: ['plans.free.limits.stock_reports: expected integer ≥ 0 or null'],
    });
    expect((caught as Error).message).toContain(
      'plans.free.limits.stock_reports: expected integer ≥ 0 or null',
    );
    expect(() =>
      createQuotaClock({
        config: { store: `sqlite:${dbPath}`, period: { timeZone: 'Nowhere/Land' } },
      }),
    ).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        details: ['period.timeZone: "Nowhere/Land" is not an IANA time zone'],
      }),
    );
    expect(snapshot()).toEqual(before);
  });
});

describe('durability and integrity', () => {
  it('a mixed workload leaves counters equal to the sum of their events, as the file and verify() both say', async () => {
    const qc = await makeClock();
    await qc.addSubject({ id: 'w-pro', plan: 'pro' });
    await qc.addSubject({ id: 'w-ent', plan: 'enterprise' });
    const days = [
      '2026-10-05',
      '2026-10-30',
      '2026-11-02',
      '2026-11-15',
      '2026-11-29',
      '2026-12-01',
    ];
    let n = 0;
    const keys = new Map<string, string[]>();
    for (const day of days) {
      for (const id of ['w-free', 'w-pro', 'w-ent']) {
        const mine = keys.get(id) ?? [];
        keys.set(id, mine);
        for (let i = 0; i < 6; i += 1) {
          n += 1;
          const now = at(`${day}T0${i}:00:00Z`);
          await qc.consume(id, F, (n % 4) + 1, { key: `k${n}`, now });
          mine.push(`k${n}`);
          // Refund an earlier consume of this subject (sometimes from the previous period).
          if (n % 5 === 0 && mine.length > 2) await qc.refund(id, mine[mine.length - 3]!, { now });
          if (n % 7 === 0) await qc.consume(id, F, 1, { key: `k${n}`, now }); // retried
        }
      }
      if (day === '2026-11-15') await qc.resetSubject('w-free', { now: at(`${day}T12:00:00Z`) });
    }
    expect(counterEventMismatches()).toEqual([]);
    expect(await integrityProblems(qc, at('2026-12-02T00:00:00Z'))).toEqual([]);
    // No granted consume ever took a counter over the limit then in force.
    expect(
      inspect((db) =>
        db
          .prepare(
            "SELECT COUNT(*) AS n FROM events WHERE kind = 'consume' AND delta > 0 AND limit_at IS NOT NULL AND used_after > limit_at",
          )
          .get(),
      ),
    ).toEqual({ n: 0 });
  });

  it('the file is in WAL mode with synchronous=FULL and a busy timeout', async () => {
    const qc = await makeClock();
    await qc.consume('cfg', F);
    const store = (await qc.store()) as unknown as { db: Database };
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    expect(Number(store.db.pragma('busy_timeout', { simple: true }))).toBeGreaterThanOrEqual(1000);
  });

  it('what was granted survives closing and reopening the store', async () => {
    const qc = await makeClock();
    await qc.consume('persist', F, 6, { key: 'p1' });
    await qc.close();
    open.splice(open.indexOf(qc), 1);
    const again = await makeClock();
    expect((await again.status('persist')).features[F]!.used).toBe(6);
    expect(await again.consume('persist', F, 6, { key: 'p1' })).toMatchObject({
      granted: true,
      used: 6,
      replayed: true,
    });
    expect(await again.consume('persist', F, 5)).toMatchObject({ granted: false, used: 6 });
  });
});
