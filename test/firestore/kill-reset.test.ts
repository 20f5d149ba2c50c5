/**
 * Invariants 5 and 6 on Firestore, with real processes: `quotaclock reset` is
 * killed with SIGKILL several times mid-close, then run again to the end. The
 * result must equal one uninterrupted run over an identical project: every
 * user closed exactly once, history written once with the right totals, the
 * ledger's totals exact.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Firestore, type DocumentData } from '@google-cloud/firestore';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CLI, cleanEnv, ensureBuilt, tempDir } from '../helpers/cli.js';
import { clearProject, emulatorDescribe, uniqueProjectId } from '../helpers/firestore-emulator.js';
import { pyTime } from './legacy-fixture.js';

const USERS = 600;
const NOW = '2026-01-01T00:01:00Z';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deterministic usage per user, some at the limit. */
const usedOf = (i: number) => (i * 7) % 11;

async function seed(db: Firestore): Promise<number> {
  const bw = db.bulkWriter();
  let total = 0;
  for (let i = 0; i < USERS; i += 1) {
    const uid = `user-${String(i).padStart(4, '0')}`;
    const used = Math.min(usedOf(i), 10);
    total += used;
    void bw.set(db.collection('userQuotas').doc(uid), {
      user_uid: uid,
      plan_type: i % 5 === 0 ? 'pro' : 'free',
      quota_limits: { stock_reports_monthly: i % 5 === 0 ? 45 : 10 },
      current_usage: { stock_reports: used },
      current_period_start: pyTime('2025-12-01T00:00:00Z'),
      current_period_end: pyTime('2025-12-31T23:59:59Z'),
      last_reset: pyTime('2025-12-01T00:01:00Z'),
      created_at: pyTime('2025-06-01T00:00:00Z'),
      updated_at: pyTime('2025-12-15T00:00:00Z'),
      is_suspended: false,
      suspension_reason: null,
      lifetime_stats: { total_stock_reports: used, member_since: pyTime('2025-06-01T00:00:00Z') },
    });
  }
  await bw.close();
  return total;
}

function startReset(
  cwd: string,
  config: string,
  host: string,
): {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>;
} {
  const child = spawn(
    process.execPath,
    [CLI, 'reset', '--json', '--config', config, '--now', NOW],
    {
      cwd,
      env: cleanEnv({ FIRESTORE_EMULATOR_HOST: host }),
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{
    code: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
  }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

/** Everything a close leaves, minus what differs between two runs by nature (ids of adoption, wall-clock). */
async function state(db: Firestore) {
  const users: Record<string, DocumentData> = {};
  for (const s of (await db.collection('userQuotas').get()).docs) {
    const { quotaclock, ...rest } = s.data();
    // The adoption's seq is a fresh id in each run; everything else must match.
    const qc = { ...(quotaclock as Record<string, unknown>) };
    delete qc.seq;
    users[s.id] = { ...rest, quotaclock: qc };
  }
  const history: Record<string, DocumentData> = {};
  for (const s of (await db.collectionGroup('usage_history').get()).docs)
    history[s.ref.path] = s.data();
  const run = (await db.collection('quotaclockRuns').doc('2025-12').get()).data()!;
  const checkpoint = JSON.parse(run.checkpoint_json as string) as {
    subjects: number;
    summary: unknown;
  };
  return {
    users,
    history,
    run: { status: run.status, subjects: checkpoint.subjects, summary: checkpoint.summary },
  };
}

await emulatorDescribe('Firestore reset killed with SIGKILL and run again', (emulator) => {
  const killed = uniqueProjectId('kill');
  const straight = uniqueProjectId('straight');
  const dbs: Firestore[] = [];
  let total = 0;

  beforeAll(async () => {
    ensureBuilt();
    for (const p of [killed, straight]) {
      const db = new Firestore({ projectId: p, universeDomain: 'googleapis.com' });
      dbs.push(db);
      total = await seed(db);
    }
  });
  afterAll(async () => {
    for (const db of dbs) await db.terminate();
    for (const p of [killed, straight]) await clearProject(emulator.host, p);
  });

  it('ends in the same state as one uninterrupted run, every user closed once', async () => {
    const cwd = tempDir('qc-fs-kill-');
    const configFor = (project: string) => {
      const path = join(cwd, `${project}.json`);
      writeFileSync(
        path,
        JSON.stringify({
          store: `firestore://${project}`,
          reset: { batchSize: 40 },
          log: { level: 'silent' },
        }),
      );
      return path;
    };
    const [dbKilled, dbStraight] = dbs as [Firestore, Firestore];
    const runRef = dbKilled.collection('quotaclockRuns').doc('2025-12');

    // Kill it three times, each at a different point after some batches committed.
    let kills = 0;
    for (const delay of [0, 35, 90]) {
      const before = (await runRef.get()).data();
      const doneBefore = before ? (JSON.parse(before.checkpoint_json).subjects as number) : 0;
      const { child, done } = startReset(cwd, configFor(killed), emulator.host);
      // Wait for at least one more committed batch, then a little more, then SIGKILL.
      for (;;) {
        const r = (await runRef.get()).data();
        const n = r ? (JSON.parse(r.checkpoint_json).subjects as number) : 0;
        if (n > doneBefore) break;
        if (child.exitCode !== null) break;
        await sleep(10);
      }
      await sleep(delay);
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        kills += 1;
      }
      const exit = await done;
      if (exit.signal !== 'SIGKILL') break;
    }
    expect(kills).toBeGreaterThanOrEqual(2);
    const mid = (await runRef.get()).data()!;
    expect(mid.status).toBe('running');

    const resumed = await startReset(cwd, configFor(killed), emulator.host).done;
    expect(resumed.code, resumed.stderr).toBe(0);
    const report = JSON.parse(resumed.stdout);
    expect(report.periods.map((p: { key: string; status: string }) => [p.key, p.status])).toEqual([
      ['2025-12', 'closed'],
    ]);

    const once = await startReset(cwd, configFor(straight), emulator.host).done;
    expect(once.code, once.stderr).toBe(0);

    const a = await state(dbKilled);
    const b = await state(dbStraight);
    expect(a.run).toEqual({ ...b.run });
    expect(a.run.subjects).toBe(USERS);
    expect(Object.keys(a.history)).toHaveLength(USERS);
    expect(a.history).toEqual(b.history);
    expect(a.users).toEqual(b.users);
    let sum = 0;
    for (const [path, h] of Object.entries(a.history)) {
      const i = Number(/user-(\d+)/.exec(path)![1]);
      expect(h.summary.total_stock_reports, path).toBe(Math.min(usedOf(i), 10));
      sum += h.summary.total_stock_reports as number;
    }
    expect(sum).toBe(total);
    for (const u of Object.values(a.users)) {
      expect(u.current_usage).toEqual({});
      expect(u.current_period_start.toDate().toISOString()).toBe('2026-01-01T00:00:00.000Z');
    }
    // And once more: nothing left to do.
    const again = await startReset(cwd, configFor(killed), emulator.host).done;
    expect(JSON.parse(again.stdout)).toMatchObject({ periods: [], alreadyClosed: ['2025-12'] });
  }, 300_000);
});
