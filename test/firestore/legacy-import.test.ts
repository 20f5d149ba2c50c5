/**
 * The migration a user of the Python scripts makes: export `userQuotas` from
 * Firestore as JSONL, in the old layout, and `quotaclock users import` it into
 * SQLite and PostgreSQL. Every subject's status is what it was on Firestore,
 * this month's usage is there as counters with one import event each (so
 * `verify` is clean), a re-import counts nothing twice, and a bad value is
 * refused with its line and field.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Firestore, Timestamp } from '@google-cloud/firestore';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createQuotaClock, type QuotaClock } from '../../src/quotaclock.js';
import { importSubjects } from '../../src/jobs/import-subjects.js';
import { toJsonValue } from '../../src/store/firestore/pre-reset-export.js';
import type { StatusResult } from '../../src/core/types.js';
import { ENGINES, type StoreLocationHandle } from '../contract/engines.js';
import { ensureBuilt, runCli } from '../helpers/cli.js';
import { clearProject, emulatorDescribe, uniqueProjectId } from '../helpers/firestore-emulator.js';
import { EXPECTED_DEC, LEGACY_USERS, writeLegacyFixture } from './legacy-fixture.js';

const DEC20 = Date.parse('2025-12-20T12:00:00Z');

/** The old plans plus `premium`, which u-premium is on (an operator keeps it by adding it). */
const CONFIG = {
  plans: {
    free: { limits: { stock_reports: 10 } },
    pro: { limits: { stock_reports: 45 } },
    pro_plus: { limits: { stock_reports: 100 } },
    enterprise: { limits: { stock_reports: null } },
    premium: { limits: { stock_reports: 100 } },
  },
  defaultPlan: 'free',
};

/**
 * What an export script over userQuotas writes: half the documents as lines
 * of quotaclock's own export format (`{"$timestamp": ISO}`, wrapped with their
 * path, between a header and a footer), half as bare documents with the id
 * beside them and timestamps as the Node SDK serialises them
 * (`{"_seconds", "_nanoseconds"}`).
 */
function exportLines(docs: Array<{ id: string; data: Record<string, unknown> }>): string {
  const lines: unknown[] = [{ type: 'header', format: 'quotaclock-firestore-export', version: 1 }];
  docs.forEach(({ id, data }, i) => {
    if (i % 2 === 0) {
      lines.push({ type: 'document', path: `userQuotas/${id}`, data: toJsonValue(data) });
    } else {
      lines.push({ id, ...(JSON.parse(JSON.stringify(data)) as Record<string, unknown>) });
    }
  });
  lines.push({ type: 'footer', documents: docs.length });
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

const view = (s: StatusResult) => ({
  plan: s.plan,
  suspended: s.suspended,
  suspendedReason: s.suspendedReason,
  period: s.period,
  features: s.features,
});

await emulatorDescribe('users import of an exported userQuotas collection', (emulator) => {
  const project = uniqueProjectId('legacy-import');
  const dir = mkdtempSync(join(tmpdir(), 'qc-legacy-import-'));
  const file = join(dir, 'userQuotas.jsonl');
  let db: Firestore;
  let before: Record<string, ReturnType<typeof view>>;

  beforeAll(async () => {
    db = new Firestore({ projectId: project, universeDomain: 'googleapis.com' });
    await writeLegacyFixture(db);
    const fsqc = createQuotaClock({ config: { ...CONFIG, store: `firestore://${project}` } });
    try {
      before = {};
      for (const uid of Object.keys(LEGACY_USERS))
        before[uid] = view(await fsqc.status(uid, { now: DEC20 }));
    } finally {
      await fsqc.close();
    }
    const snaps = await db.collection('userQuotas').get();
    writeFileSync(file, exportLines(snaps.docs.map((s) => ({ id: s.id, data: s.data() }))));
  });
  afterAll(async () => {
    await db?.terminate();
    await clearProject(emulator.host, project);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the Firestore statuses are the legacy ones (the baseline compared against)', () => {
    for (const [uid, want] of Object.entries(EXPECTED_DEC)) {
      expect([before[uid]!.plan, before[uid]!.features.stock_reports!.used], uid).toEqual([
        want.plan,
        want.used,
      ]);
    }
  });

  for (const engine of ENGINES.filter((e) => e.name !== 'firestore')) {
    it.skipIf(engine.missing !== null)(
      `imports into ${engine.name}: statuses equal, verify clean, a re-import counts nothing twice`,
      async () => {
        let handle: StoreLocationHandle | null = null;
        let qc: QuotaClock | null = null;
        try {
          handle = await engine.create();
          qc = createQuotaClock({ config: { ...CONFIG, store: handle.url } });
          await (await qc.store()).migrate();
          const dry = await importSubjects(qc, file, { now: DEC20, dryRun: true });
          expect(dry).toMatchObject({ dryRun: true, added: 12, updated: 0, usageImported: 9 });
          expect((await qc.store().then((s) => s.listSubjects())).items).toEqual([]);
          const first = await importSubjects(qc, file, { now: DEC20 });
          expect(first).toMatchObject({ dryRun: false, rows: 12, added: 12, updated: 0 });
          // Every subject with usage this month, one feature each; u-old-period's November is left behind.
          expect(first.usageImported).toBe(9);
          expect(first.notes.join('\n')).toMatch(/current_usage: counts 2025-11, which has ended/);
          expect(first.notes.join('\n')).toMatch(/plan_type: 7 is not text; read as free/);
          for (const uid of Object.keys(LEGACY_USERS))
            expect(view(await qc.status(uid, { now: DEC20 })), uid).toEqual(before[uid]);
          expect((await qc.getSubject('u-free-active')).name).toBe('Ada');
          expect((await qc.getSubject('u-custom-limit')).overrides).toEqual({ stock_reports: 25 });
          const store = await qc.store();
          expect(await store.verify(DEC20)).toEqual([]);

          expect(await importSubjects(qc, file, { now: DEC20, dryRun: true })).toMatchObject({
            added: 0,
            updated: 0,
            unchanged: 12,
            usageImported: 0,
          });
          const again = await importSubjects(qc, file, { now: DEC20 });
          expect(again).toMatchObject({ added: 0, updated: 0, unchanged: 12, usageImported: 0 });
          for (const uid of Object.keys(LEGACY_USERS))
            expect(view(await qc.status(uid, { now: DEC20 })), uid).toEqual(before[uid]);
          expect(await store.verify(DEC20)).toEqual([]);

          // Consumes after the import count on top of it, against the same limit.
          expect(
            await qc.consume('u-free-active', 'stock_reports', 7, { now: DEC20 + 1000 }),
          ).toMatchObject({ granted: true, used: 10 });
          expect(
            await qc.consume('u-free-active', 'stock_reports', 1, { now: DEC20 + 2000 }),
          ).toMatchObject({ granted: false, used: 10 });
          expect(await store.verify(DEC20 + 3000)).toEqual([]);
        } finally {
          await qc?.close();
          await handle?.destroy();
        }
      },
    );
  }

  it('through the CLI into SQLite: exit 0, then verify exit 0', async () => {
    ensureBuilt();
    const cwd = mkdtempSync(join(dir, 'cli-'));
    writeFileSync(join(cwd, 'quotaclock.config.json'), JSON.stringify(CONFIG));
    const args = ['--db', join(cwd, 'q.db'), '--now', '2025-12-20T12:00:00Z'];
    expect((await runCli(['init', ...args], { cwd })).code).toBe(0);
    const r = await runCli(['users', 'import', file, ...args, '--json'], { cwd });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ rows: 12, added: 12, usageImported: 9 });
    const v = await runCli(['verify', ...args], { cwd });
    expect([v.code, v.stderr]).toEqual([0, '']);
    const s = await runCli(['status', 'u-pro-full', ...args, '--json'], { cwd });
    expect(JSON.parse(s.stdout)).toMatchObject({
      plan: 'pro',
      features: { stock_reports: { used: 45, limit: 45 } },
    });
  });

  it('refuses bad values whole, naming line and field (never "[object Object]")', async () => {
    ensureBuilt();
    const cwd = mkdtempSync(join(dir, 'bad-'));
    writeFileSync(join(cwd, 'quotaclock.config.json'), JSON.stringify(CONFIG));
    const bad = join(cwd, 'bad.jsonl');
    const ok = { user_uid: 'fine', plan_type: 'free', current_usage: { stock_reports: 1 } };
    writeFileSync(
      bad,
      [
        ok,
        { ...ok, user_uid: 'b1', created_at: { $timestamp: 'last tuesday' } },
        { ...ok, user_uid: 'b2', plan_type: 'gold' },
        { ...ok, user_uid: 'b3', user_email: { $timestamp: 3 } },
        { ...ok, user_uid: 'b4', current_usage: { stock_reportz: 2 } },
        { ...ok, user_uid: 'b5', quota_limit: { stock_reports_monthly: 5 } },
        { ...ok, user_uid: undefined, quota_limits: {} },
        { id: 'plain', created_at: { $timestamp: { weird: true } } },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n',
    );
    const dbPath = join(cwd, 'q.db');
    expect((await runCli(['init', '--db', dbPath], { cwd })).code).toBe(0);
    const r = await runCli(
      ['users', 'import', bad, '--db', dbPath, '--now', '2025-12-20T12:00:00Z'],
      {
        cwd,
      },
    );
    expect(r.code).toBe(2);
    const err = r.stderr;
    expect(err).not.toContain('[object Object]');
    expect(err).toContain('line 2: created_at: not a timestamp: {"$timestamp":"last tuesday"}');
    expect(err).toMatch(/line 3: plan_type: unknown plan "gold"/);
    expect(err).toContain('line 4: user_email: expected text, got {"$timestamp":3}');
    expect(err).toMatch(/line 5: current_usage\.stock_reportz: unknown feature "stock_reportz"/);
    expect(err).toMatch(/line 6: quota_limit: not a field of the userQuotas layout/);
    expect(err).toMatch(/line 7: user_uid: missing/);
    expect(err).toMatch(/line 8: created_at: not a timestamp/);
    expect(err).not.toMatch(/line 1:/);
    // Nothing was written: the one good line is not there either.
    const s = await runCli(['users', 'list', '--db', dbPath, '--json'], { cwd });
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ items: [] });
  });

  it('into Firestore, above one transaction’s worth of rows: usage once, verify clean', async () => {
    const target = uniqueProjectId('legacy-import-big');
    const qc = createQuotaClock({ config: { ...CONFIG, store: `firestore://${target}` } });
    try {
      const rows = Array.from({ length: 450 }, (_, i) => ({
        id: `big-${String(i).padStart(3, '0')}`,
        plan: 'pro',
        usage: { stock_reports: (i % 45) + 1 },
      }));
      expect(await (await qc.store()).upsertSubjects(rows, DEC20, { dryRun: true })).toEqual({
        added: 450,
        updated: 0,
        usageImported: 450,
      });
      expect(await qc.importSubjects(rows, { now: DEC20 })).toEqual({
        added: 450,
        updated: 0,
        usageImported: 450,
      });
      expect(await qc.importSubjects(rows, { now: DEC20 })).toEqual({
        added: 0,
        updated: 450,
        usageImported: 0,
      });
      expect((await qc.status('big-449', { now: DEC20 })).features.stock_reports?.used).toBe(45);
      expect(await (await qc.store()).verify(DEC20)).toEqual([]);
    } finally {
      await qc.close();
      await clearProject(emulator.host, target);
    }
  });

  it('a timestamp in any of the export forms reads as the same instant', async () => {
    const { decodeInstant } = await import('../../src/core/legacy-document.js');
    const t = new Timestamp(1_764_547_200, 412_000_000);
    const ms = t.toMillis();
    for (const v of [
      { $timestamp: t.toDate().toISOString() },
      JSON.parse(JSON.stringify(t)),
      { seconds: t.seconds, nanoseconds: t.nanoseconds },
      { $timestamp: { seconds: t.seconds, nanos: t.nanoseconds } },
      { __time__: t.toDate().toISOString() },
      t.toDate().toISOString(),
    ])
      expect(decodeInstant(v), JSON.stringify(v)).toBe(ms);
    expect(decodeInstant({ $timestamp: 'soon' })).toBeUndefined();
  });
});
