/**
 * backup_dir: before the reset writes anything for a period, the userQuotas
 * documents it is about to close are exported as JSONL. An export that
 * cannot be written stops the reset before its first write.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runReset } from '../../src/jobs/reset.js';
import { createQuotaClock } from '../../src/quotaclock.js';
import { clearProject, emulatorDescribe, uniqueProjectId } from '../helpers/firestore-emulator.js';
import { LEGACY_USERS } from './legacy-fixture.js';

const JAN1 = Date.parse('2026-01-01T00:01:00Z');
const USERS = ['u-free-active', 'u-pro-full', 'u-enterprise'];

await emulatorDescribe('Firestore pre-reset export', (emulator) => {
  const project = uniqueProjectId('export');
  const dir = mkdtempSync(join(tmpdir(), 'qc-fs-pre-'));
  let db: Firestore;
  const reset = (backupDir: string) => {
    const qc = createQuotaClock({
      config: {
        store: `firestore://${project}?backup_dir=${encodeURIComponent(backupDir)}`,
        reset: { batchSize: 2, leaseSeconds: 60, waitForLeaseSeconds: 0 },
      },
    });
    return runReset(qc, { now: JAN1 }).finally(() => qc.close());
  };
  const versions = async () =>
    (await db.collection('userQuotas').get()).docs.map((d) => [d.id, d.updateTime.toMillis()]);

  beforeAll(async () => {
    db = new Firestore({ projectId: project, universeDomain: 'googleapis.com' });
    for (const uid of USERS) await db.collection('userQuotas').doc(uid).set(LEGACY_USERS[uid]!);
  });
  afterAll(async () => {
    await db?.terminate();
    await clearProject(emulator.host, project);
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops the reset before any write when the export cannot be written', async () => {
    const notADir = join(dir, 'a-file');
    writeFileSync(notADir, 'x');
    const before = await versions();
    const err = await reset(join(notADir, 'exports')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'RESET_FAILED', where: 'backup_dir' });
    expect((err as Error).message).toContain('nothing was reset');
    expect(await versions()).toEqual(before);
    expect((await db.collectionGroup('usage_history').get()).size).toBe(0);
    expect((await db.collection('quotaclockRuns').get()).size).toBe(0);
  });

  it('exports the documents as they were, then closes them', async () => {
    const out = join(dir, 'exports');
    const report = await reset(out);
    expect(report.periods.map((p) => [p.key, p.subjects])).toEqual([['2025-12', 3]]);
    const files = readdirSync(out);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^userQuotas-2025-12-.*\.jsonl$/);
    const lines = readFileSync(join(out, files[0]!), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ type: 'header', project, period: '2025-12' });
    expect(lines.at(-1)).toMatchObject({ type: 'footer', documents: 3 });
    const docs = lines.slice(1, -1);
    expect(docs.map((d) => d.path).sort()).toEqual(USERS.map((u) => `userQuotas/${u}`).sort());
    for (const d of docs) {
      const uid = d.path.split('/')[1] as string;
      expect(d.data.current_usage).toEqual(LEGACY_USERS[uid]!.current_usage);
      expect(d.data.quotaclock).toBeUndefined();
    }
    const run = (await db.collection('quotaclockRuns').doc('2025-12').get()).data()!;
    expect(run.pre_reset_export).toBe(join(out, files[0]!));
    expect(run.pre_reset_documents).toBe(3);
    // Nothing left to close: no second export.
    await reset(out);
    expect(readdirSync(out)).toHaveLength(1);
  });
});
