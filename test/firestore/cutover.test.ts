/**
 * The cut-over with the old app still running (docs/migrating-from-python-scripts.md,
 * "Running both during the switch"): during December the old Python writers
 * (replayed by legacy-writer.ts) and quotaclock consume on the same userQuotas
 * documents; both land in the same counters, verify stays clean, the close
 * counts both, `report` and `metrics` read it on Firestore, and rolling back
 * to the old scripts leaves documents they read and write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import { runReset } from '../../src/jobs/reset.js';
import { restoreBackup, writeBackup } from '../../src/jobs/backup.js';
import { ENGINES } from '../contract/engines.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { clearProject, emulatorDescribe, uniqueProjectId } from '../helpers/firestore-emulator.js';
import {
  LEGACY_USERS,
  oldReaderHistory,
  oldReaderQuota,
  writeLegacyFixture,
} from './legacy-fixture.js';
import { oldConsume } from './legacy-writer.js';

const at = (iso: string) => Date.parse(iso);
const used = async (qc: QuotaClock, uid: string, now: number) =>
  (await qc.status(uid, { now })).features.stock_reports!.used;

await emulatorDescribe('cut-over: the old app and quotaclock on the same documents', (emulator) => {
  const project = uniqueProjectId('cutover');
  const cwd = mkdtempSync(join(tmpdir(), 'qc-cutover-'));
  let db: Firestore;
  let qc: QuotaClock;
  const doc = async (uid: string) =>
    (await db.collection('userQuotas').doc(uid).get()).data() as Record<string, unknown>;
  const violations = async (now: number) =>
    (await (await qc.store()).verify(now)).filter((v) => v.kind !== 'unknown_plan');

  beforeAll(async () => {
    db = new Firestore({ projectId: project, universeDomain: 'googleapis.com' });
    await writeLegacyFixture(db);
    qc = createQuotaClock({
      config: {
        store: `firestore://${project}`,
        reset: { batchSize: 5, leaseSeconds: 60, waitForLeaseSeconds: 5 },
      },
    });
  });
  afterAll(async () => {
    await qc?.close();
    await db?.terminate();
    await clearProject(emulator.host, project);
    rmSync(cwd, { recursive: true, force: true });
  });

  it('during December both writers count in the same counters, and verify stays clean', async () => {
    // The old app alone, then quotaclock (which adopts the document), then both in turn.
    expect(await oldConsume(db, 'u-free-active', { nowMs: at('2025-12-10T09:00:00Z') })).toBe(
      'granted',
    );
    await qc.consume('u-free-active', 'stock_reports', 1, {
      now: at('2025-12-20T10:00:00Z'),
      key: 'cut-1',
    });
    expect(await oldConsume(db, 'u-free-active', { nowMs: at('2025-12-21T10:00:00Z') })).toBe(
      'granted',
    );
    await qc.consume('u-free-active', 'stock_reports', 1, { now: at('2025-12-22T10:00:00Z') });
    expect(await used(qc, 'u-free-active', at('2025-12-22T11:00:00Z'))).toBe(3 + 4);
    const ada = await doc('u-free-active');
    expect(oldReaderQuota(ada)).toMatchObject({ used: 7, limit: 10, plan_type: 'free' });
    // The old writer rewrites every field its model knows; quotaclock's own map survives it.
    expect(ada.quotaclock).toMatchObject({ baseline: { used: { stock_reports: 4 } } });
    expect(ada.user_displayName).toBe('Ada');

    // Each refuses a full user: the old check reads what quotaclock counted and the other way round.
    expect(await oldConsume(db, 'u-pro-full', { nowMs: at('2025-12-22T12:00:00Z') })).toBe(
      'quota_exceeded',
    );
    expect(
      await qc.consume('u-pro-full', 'stock_reports', 1, { now: at('2025-12-22T12:00:00Z') }),
    ).toMatchObject({ granted: false, used: 45 });
    expect(await oldConsume(db, 'u-suspended', { nowMs: at('2025-12-22T12:00:00Z') })).toBe(
      'suspended',
    );

    // A document the old code could not read (no user_uid) works for it once quotaclock wrote it.
    await expect(oldConsume(db, 'u-no-uid', { nowMs: at('2025-12-22T13:00:00Z') })).rejects.toThrow(
      /KeyError/,
    );
    await qc.consume('u-no-uid', 'stock_reports', 1, { now: at('2025-12-22T13:00:00Z') });
    expect(await oldConsume(db, 'u-no-uid', { nowMs: at('2025-12-22T14:00:00Z') })).toBe('granted');
    expect(await used(qc, 'u-no-uid', at('2025-12-22T15:00:00Z'))).toBe(1 + 1 + 1);

    // At the same time on one document: both increments are transactions, so none is lost.
    // (quotaclock has written the document before; see "verify stays clean" in the guide
    // for the one old consume that can race that very first write.)
    await qc.consume('u-enterprise', 'stock_reports', 1, { now: at('2025-12-23T07:00:00Z') });
    const now = at('2025-12-23T08:00:00Z');
    await Promise.all([
      ...[1, 2, 3, 4].map(() => oldConsume(db, 'u-enterprise', { nowMs: now })),
      ...[1, 2, 3, 4].map((i) =>
        qc.consume('u-enterprise', 'stock_reports', 1, { now, key: `ent-${i}` }),
      ),
    ]);
    expect(await used(qc, 'u-enterprise', now + 1)).toBe(250 + 1 + 8);

    // The old writer's records after adoption count like events, so the counters add up.
    // (u-old-period's November is open until the reset: the one expected finding.)
    expect(await violations(at('2025-12-23T09:00:00Z'))).toEqual([
      expect.objectContaining({ kind: 'open_period', subject: 'u-old-period' }),
    ]);
  });

  it('the close counts both, and report and metrics read it on Firestore', async () => {
    const report = await runReset(qc, { now: at('2026-01-01T00:01:00Z') });
    expect(report.outcome).toBe('ok');
    const dec = report.periods.find((p) => p.key === '2025-12')!;
    const before = 3 + 45 + 250 + 2 + 4 + 1 + 0 + 12 + 0 + 2 + 30 + 0;
    // u-free-active +4, u-no-uid +2, u-enterprise +9.
    expect(dec).toMatchObject({ status: 'closed', subjects: 12, used: before + 4 + 2 + 9 });
    const hist = (
      await db
        .collection('userQuotas')
        .doc('u-free-active')
        .collection('usage_history')
        .doc('2025-12')
        .get()
    ).data()!;
    // The old per-report list keeps the old app's reports; the summary counts both.
    expect(oldReaderHistory(hist)).toEqual({ period: '2025-12', total: 7, records: 3 + 2 });
    expect(await violations(at('2026-01-02T00:00:00Z'))).toEqual([]);

    ensureBuilt();
    const args = ['--db', `firestore://${project}`, '--now', '2026-01-02T00:00:00Z'];
    const env = { FIRESTORE_EMULATOR_HOST: emulator.host };
    const r = await runCli(['report', '--period', '2025-12', '--format', 'json', ...args], {
      cwd,
      env,
    });
    expect([r.code, r.stderr]).toEqual([0, '']);
    const body = JSON.parse(r.stdout) as { totals: { used: number; subjects: number } };
    // The period report reads the counters: the old app's units are in it.
    expect(body.totals).toMatchObject({ subjects: 12, used: before + 4 + 2 + 9 });
    const m = await runCli(['metrics', ...args], { cwd, env });
    expect([m.code, m.stderr]).toEqual([0, '']);
    // The consume counters read events: quotaclock's own requests (2 + 1 denied + 1 + 5).
    expect(m.stdout).toMatch(/quotaclock_consume_requests_total\{outcome="granted"\} 8\n/);
    expect(m.stdout).toMatch(/quotaclock_consume_requests_total\{outcome="denied"\} 1\n/);
  });

  it('rolling back to the old scripts leaves documents they read and write', async () => {
    for (const uid of Object.keys(LEGACY_USERS)) {
      const old = oldReaderQuota(await doc(uid));
      expect([old.used, old.period_end.toDate().toISOString()], uid).toEqual([
        0,
        '2026-01-31T23:59:59.000Z',
      ]);
    }
    // The old app in January: no second reset (the period end is January's), it just counts.
    expect(await oldConsume(db, 'u-free-active', { nowMs: at('2026-01-05T10:00:00Z') })).toBe(
      'granted',
    );
    expect(oldReaderQuota(await doc('u-free-active'))).toMatchObject({ used: 1, limit: 10 });
    expect(await oldConsume(db, 'u-no-uid', { nowMs: at('2026-01-05T10:00:00Z') })).toBe('granted');
    // quotaclock still reads what the old app wrote, should it come back.
    expect(await used(qc, 'u-free-active', at('2026-01-06T00:00:00Z'))).toBe(1);
    expect(await violations(at('2026-01-06T00:00:00Z'))).toEqual([]);
  });

  it('moving on to SQLite later, backup and restore carry the old writers’ units as events', async () => {
    const sqlite = ENGINES.find((e) => e.name === 'sqlite')!;
    const handle = await sqlite.create();
    const file = join(cwd, 'cutover-backup.jsonl');
    const target = createQuotaClock({ config: { store: handle.url } });
    try {
      await writeBackup(qc, file);
      await (await target.store()).migrate();
      await restoreBackup(target, file);
      const now = at('2026-01-06T00:00:00Z');
      for (const uid of ['u-free-active', 'u-no-uid', 'u-enterprise'])
        expect(await used(target, uid, now), uid).toBe(await used(qc, uid, now));
      expect(
        (await target.history('u-free-active')).find((h) => h.key === '2025-12')?.features
          .stock_reports?.used,
      ).toBe(7);
      const v = await (await target.store()).verify(now);
      expect(v.filter((x) => x.kind === 'counter_mismatch' || x.kind === 'over_limit')).toEqual([]);
      // Known, not about the cut-over: the old scripts' own closed November (u-free-active's 5)
      // arrives in closed periods the 2025-11 ledger row never counted (reported separately).
      expect(
        v
          .filter((x) => x.kind !== 'unknown_plan' && x.kind !== 'counter_mismatch')
          .map((x) => [x.kind, x.message.slice(0, 50)]),
      ).toEqual([['usage_after_close', 'period 2025-11: 5 stock_reports recorded after the']]);
    } finally {
      await target.close();
      await handle.destroy();
    }
  });
});
