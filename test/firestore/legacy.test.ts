/**
 * quotaclock pointed at an existing project of the earlier system: documents
 * written by the Python code (with their gaps) read correctly, the reset
 * closes the old period in place (history written, counters zeroed, old
 * readers still working), a rerun changes nothing, and the pre-reset export
 * holds the documents as they were.
 */
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Firestore, Timestamp } from '@google-cloud/firestore';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import { runReset } from '../../src/jobs/reset.js';
import { emulatorDescribe, uniqueProjectId, clearProject } from '../helpers/firestore-emulator.js';
import { ensureBuilt, runCli, tempDir } from '../helpers/cli.js';
import {
  EXPECTED_DEC,
  LEGACY_HISTORY,
  LEGACY_USERS,
  oldReaderHistory,
  oldReaderQuota,
  writeLegacyFixture,
} from './legacy-fixture.js';

const DEC20 = Date.parse('2025-12-20T12:00:00Z');
const JAN1 = Date.parse('2026-01-01T00:01:00Z');
const JAN2 = Date.parse('2026-01-02T00:00:00Z');

/** Every document's update time, to prove a rerun writes nothing. */
async function versions(db: Firestore): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const s of (await db.collection('userQuotas').get()).docs)
    out[s.ref.path] = s.updateTime.toDate().toISOString();
  for (const s of (await db.collectionGroup('usage_history').get()).docs) {
    out[s.ref.path] = s.updateTime.toDate().toISOString();
  }
  return out;
}

await emulatorDescribe('Firestore store over the earlier system’s documents', (emulator) => {
  const project = uniqueProjectId('legacy');
  const backupDir = mkdtempSync(join(tmpdir(), 'qc-fs-export-'));
  const store = `firestore://${project}?backup_dir=${encodeURIComponent(backupDir)}`;
  let db: Firestore;
  let qc: QuotaClock;

  beforeAll(async () => {
    db = new Firestore({ projectId: project, universeDomain: 'googleapis.com' });
    await writeLegacyFixture(db);
    qc = createQuotaClock({
      config: { store, reset: { batchSize: 4, leaseSeconds: 60, waitForLeaseSeconds: 5 } },
    });
  });
  afterAll(async () => {
    await qc?.close();
    await db?.terminate();
    await clearProject(emulator.host, project);
    rmSync(backupDir, { recursive: true, force: true });
  });

  it('reads every legacy document through status with the old defaults', async () => {
    for (const [uid, want] of Object.entries(EXPECTED_DEC)) {
      const s = await qc.status(uid, { now: DEC20 });
      expect(
        { uid, plan: s.plan, suspended: s.suspended, ...s.features.stock_reports },
        uid,
      ).toEqual({
        uid,
        plan: want.plan,
        suspended: want.suspended,
        limit: want.limit,
        used: want.used,
        remaining: want.limit === null ? null : Math.max(0, want.limit - want.used),
        unlimited: want.limit === null,
      });
      expect(s.period).toEqual({
        key: '2025-12',
        start: '2025-12-01T00:00:00.000Z',
        end: '2026-01-01T00:00:00.000Z',
      });
    }
    expect((await qc.status('u-suspended', { now: DEC20 })).suspendedReason).toBe('chargeback');
    expect(await qc.getSubject('u-free-active')).toMatchObject({
      email: 'ada@example.com',
      name: 'Ada',
      overrides: {},
      createdAt: '2025-10-14T09:31:07.412Z',
    });
    // A limit an admin set by hand is the subject's override; one the old code defaulted stays in force.
    expect((await qc.getSubject('u-custom-limit')).overrides).toEqual({ stock_reports: 25 });
    expect((await qc.getSubject('u-no-limits')).overrides).toEqual({ stock_reports: 10 });
    // Reading wrote nothing.
    expect(
      (await db.collection('userQuotas').doc('u-no-uid').get()).get('quotaclock'),
    ).toBeUndefined();
  });

  it('reads the same through the CLI (quotaclock status --json)', async () => {
    ensureBuilt();
    const cwd = tempDir();
    const r = await runCli(
      [
        'status',
        'u-pro-full',
        '--json',
        '--db',
        `firestore://${project}`,
        '--now',
        '2025-12-20T12:00:00Z',
      ],
      {
        cwd,
        env: { FIRESTORE_EMULATOR_HOST: emulator.host },
      },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      subject: 'u-pro-full',
      plan: 'pro',
      suspended: false,
      period: { start: '2025-12-01T00:00:00.000Z', end: '2026-01-01T00:00:00.000Z' },
      features: { stock_reports: { limit: 45, used: 45, remaining: 0, unlimited: false } },
    });
  });

  it('lists the earlier system’s closed months as history', async () => {
    const h = await qc.history('u-free-active');
    expect(h.map((e) => [e.key, e.closed, e.features.stock_reports?.used])).toEqual([
      ['2025-12', false, 3],
      ['2025-11', true, 5],
    ]);
    expect(
      (await qc.history('u-old-period')).map((e) => [
        e.key,
        e.closed,
        e.features.stock_reports?.used,
      ]),
    ).toEqual([['2025-11', false, 7]]);
  });

  it('consumes in one transaction, adopting the document in place', async () => {
    const r = await qc.consume('u-no-uid', 'stock_reports', 1, {
      now: DEC20,
      key: 'rep-1',
      meta: { ticker: 'IBM' },
    });
    expect(r).toMatchObject({ granted: true, used: 2, limit: 45 });
    const doc = (await db.collection('userQuotas').doc('u-no-uid').get()).data()!;
    expect(doc.user_uid).toBe('u-no-uid');
    expect(doc.current_usage).toEqual({ stock_reports: 2 });
    expect(doc.lifetime_stats.total_stock_reports).toBe(1);
    expect(doc.quotaclock.baseline.used).toEqual({ stock_reports: 1 });
    expect(oldReaderQuota(doc)).toMatchObject({ user_uid: 'u-no-uid', limit: 45, used: 2 });
    // The event is its own document, not an element of an ever-growing array.
    const events = await db
      .collection('userQuotas')
      .doc('u-no-uid')
      .collection('usage_events')
      .get();
    expect(events.size).toBe(1);
    expect(events.docs[0]!.data()).toMatchObject({
      kind: 'consume',
      feature: 'stock_reports',
      delta: 1,
      period_key: '2025-12',
    });
    await qc.refund('u-no-uid', 'rep-1', { now: DEC20 });
    expect((await qc.status('u-no-uid', { now: DEC20 })).features.stock_reports?.used).toBe(1);
    // A full pro user is refused inside the same transaction that would have counted.
    expect(await qc.consume('u-pro-full', 'stock_reports', 1, { now: DEC20 })).toMatchObject({
      granted: false,
      reason: 'quota_exceeded',
      used: 45,
    });
    // verify counts what the old code counted as a baseline, not as a mismatch.
    const v = await (await qc.store()).verify(DEC20);
    expect(v.filter((x) => x.kind === 'counter_mismatch' || x.kind === 'over_limit')).toEqual([]);
    expect(v.filter((x) => x.kind === 'unknown_plan').map((x) => x.subject)).toEqual(['u-premium']);
  });

  it('closes November and December in place: history written, counters zeroed, old readers still work', async () => {
    const before = Object.fromEntries(
      (await db.collection('userQuotas').get()).docs.map((s) => [s.id, s.data()]),
    );
    const report = await runReset(qc, { now: JAN1 });
    expect(report.outcome).toBe('ok');
    expect(report.periods.map((p) => [p.key, p.status, p.subjects, p.used])).toEqual([
      ['2025-11', 'closed', 1, 7],
      ['2025-12', 'closed', 12, 3 + 45 + 250 + 2 + 4 + 1 + 0 + 12 + 0 + 2 + 30 + 0],
    ]);
    for (const uid of Object.keys(LEGACY_USERS)) {
      const doc = (await db.collection('userQuotas').doc(uid).get()).data()!;
      expect(doc.current_period_start.toDate().toISOString(), uid).toBe('2026-01-01T00:00:00.000Z');
      expect(doc.current_period_end.toDate().toISOString(), uid).toBe('2026-01-31T23:59:59.000Z');
      expect(doc.current_usage, uid).toEqual({});
      expect(doc.last_reset.toMillis()).toBe(JAN1);
      const old = oldReaderQuota(doc);
      expect(old.used).toBe(0);
      const hist = (
        await db.collection('userQuotas').doc(uid).collection('usage_history').doc('2025-12').get()
      ).data()!;
      const wasUsed =
        uid === 'u-old-period' || uid === 'u-garbage'
          ? 0
          : (before[uid]!.current_usage as { stock_reports: number }).stock_reports;
      expect(oldReaderHistory(hist), uid).toMatchObject({ period: '2025-12', total: wasUsed });
      expect(hist.quotaclock).toMatchObject({ key: '2025-12', closed: true });
    }
    // The old per-report list and daily_stats are kept; only the summary was written.
    const ada = (
      await db
        .collection('userQuotas')
        .doc('u-free-active')
        .collection('usage_history')
        .doc('2025-12')
        .get()
    ).data()!;
    expect(oldReaderHistory(ada)).toEqual({ period: '2025-12', total: 3, records: 3 });
    expect(ada.daily_stats).toEqual(LEGACY_HISTORY['u-free-active']!['2025-12']!.daily_stats);
    expect(ada.created_at).toEqual(LEGACY_HISTORY['u-free-active']!['2025-12']!.created_at);
    // The old-period user had November closed first, then an empty December.
    const nov = (
      await db
        .collection('userQuotas')
        .doc('u-old-period')
        .collection('usage_history')
        .doc('2025-11')
        .get()
    ).data()!;
    expect(oldReaderHistory(nov)).toMatchObject({ period: '2025-11', total: 7 });
    // Status in January: fresh counters, suspension and limits unchanged.
    for (const [uid, want] of Object.entries(EXPECTED_DEC)) {
      const s = await qc.status(uid, { now: JAN2 });
      expect(
        [s.plan, s.suspended, s.features.stock_reports?.limit, s.features.stock_reports?.used],
        uid,
      ).toEqual([want.plan, want.suspended, want.limit, 0]);
    }
    expect(await qc.history('u-free-active')).toMatchObject([
      {
        key: '2025-12',
        closed: true,
        plan: 'free',
        features: { stock_reports: { used: 3, limit: 10 } },
      },
      { key: '2025-11', closed: true, features: { stock_reports: { used: 5 } } },
    ]);
    const ledger = await (await qc.store()).getRun('2025-12');
    expect(ledger).toMatchObject({ status: 'closed', checkpoint: { subjects: 12 } });
    expect(ledger?.checkpoint.summary.free?.stock_reports).toEqual({
      subjects: 7,
      used: 23,
      atLimit: 0,
    });
    const v = await (await qc.store()).verify(JAN2);
    expect(v.filter((x) => x.kind !== 'unknown_plan')).toEqual([]);
  });

  it('changes nothing when run again', async () => {
    const before = await versions(db);
    const again = await runReset(qc, { now: JAN1 + 60_000 });
    expect(again.periods).toEqual([]);
    expect(again.alreadyClosed).toEqual(['2025-12']);
    expect(await versions(db)).toEqual(before);
  });

  it('exported each closing period’s documents before writing them', () => {
    const files = readdirSync(backupDir).sort();
    expect(files.map((f) => f.replace(/-\d{4}-\d{2}-\d{2}T.*$/, ''))).toEqual([
      'userQuotas-2025-11',
      'userQuotas-2025-12',
    ]);
    const lines = readFileSync(join(backupDir, files[1]!), 'utf8').trim().split('\n');
    const header = JSON.parse(lines[0]!);
    expect(header).toMatchObject({
      type: 'header',
      format: 'quotaclock-firestore-export',
      period: '2025-12',
      collection: 'userQuotas',
    });
    const footer = JSON.parse(lines[lines.length - 1]!);
    const docs = lines.slice(1, -1).map((l) => JSON.parse(l));
    expect(footer.documents).toBe(docs.length);
    expect(footer.sha256).toBe(
      createHash('sha256')
        .update(
          lines
            .slice(0, -1)
            .map((l) => `${l}\n`)
            .join(''),
        )
        .digest('hex'),
    );
    // November closed first, so u-old-period is in December's export too.
    expect(docs.map((d) => d.path).sort()).toEqual(
      Object.keys(LEGACY_USERS)
        .map((u) => `userQuotas/${u}`)
        .sort(),
    );
    const pro = docs.find((d) => d.path === 'userQuotas/u-pro-full');
    expect(pro.data.current_usage).toEqual({ stock_reports: 45 });
    expect(pro.data.current_period_end).toEqual({ $timestamp: '2025-12-31T23:59:59.000Z' });
    expect(Timestamp.fromDate(new Date(pro.data.created_at.$timestamp)).toMillis()).toBe(
      (LEGACY_USERS['u-pro-full']!.created_at as Timestamp).toMillis(),
    );
  });
});
