/**
 * Invariants 1-3 across real OS processes on one SQLite file: several
 * workers (test/helpers/consume-worker.mjs, running the built library from
 * dist/) race on the same few subjects. Afterwards the file is read directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Database } from '../../src/store/sqlite/driver.js';
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createQuotaClock } from '../../src/quotaclock.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIST_INDEX = join(ROOT, 'dist/index.js');
const WORKER = join(ROOT, 'test/helpers/consume-worker.mjs');

const WORKERS = 4;
const SUBJECTS = ['c-ava', 'c-ben', 'c-chen', 'c-dara', 'c-eli', 'c-fatima'];
const ROUNDS = 50;
const LIMIT = 10; // the free plan
/** The rounds are split over five months, so each (subject, month) counter is a fresh race to the limit. */
const MONTHS = ['2026-07', '2026-08', '2026-09', '2026-10', '2026-11'];
const MONTH_NOW = MONTHS.map((m) => Date.parse(`${m}-15T12:00:00Z`));
const NOW = MONTH_NOW[MONTH_NOW.length - 1]!;
const JITTER_MS = 2;

interface WorkerResult {
  worker: number;
  subject: string;
  amount: number;
  key: string | null;
  kind: 'shared' | 'first' | 'retry' | 'plain';
  granted: boolean;
  used: number;
  limit: number | null;
  remaining: number | null;
  period: string;
  reason: string | null;
  replayed: boolean;
}

interface WorkerError {
  worker: number;
  code: string | null;
  message: string;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The workers run dist/: build it when it is missing or older than the sources. */
function ensureBuilt(): void {
  if (existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= newestMtime(join(ROOT, 'src')))
    return;
  try {
    execFileSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: ROOT,
        stdio: 'inherit',
      },
    );
  } catch (e) {
    // tsc still emits on type errors elsewhere in the tree; only a missing build is fatal.
    if (!existsSync(DIST_INDEX)) throw e;
    console.warn(`tsc reported errors; running the workers on the emitted dist/ anyway`);
  }
}

function startWorker(index: number, dbPath: string): ChildProcess {
  return fork(WORKER, [], {
    env: {
      ...process.env,
      QC_DIST: pathToFileURL(DIST_INDEX).href,
      QC_DB: dbPath,
      QC_WORKER: String(index),
      QC_SUBJECTS: SUBJECTS.join(','),
      QC_ROUNDS: String(ROUNDS),
      QC_MONTHS: MONTH_NOW.join(','),
      QC_JITTER_MS: String(JITTER_MS),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function nextMessage<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolveMsg, reject) => {
    const onMessage = (msg: { type?: string }) => {
      if (msg?.type !== type) return;
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolveMsg(msg as T);
    };
    const onExit = (code: number | null) =>
      reject(new Error(`worker exited with ${code} before "${type}"`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

describe(`${WORKERS} processes racing on one SQLite file`, () => {
  let dir: string;
  let dbPath: string;
  let results: WorkerResult[] = [];
  let errors: WorkerError[] = [];
  let exitCodes: Array<number | null> = [];

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'quotaclock-race-'));
    dbPath = join(dir, 'race.db');
    const setup = createQuotaClock({ config: { store: `sqlite:${dbPath}` } });
    await setup.init();
    await setup.close();

    const children = Array.from({ length: WORKERS }, (_, i) => startWorker(i, dbPath));
    const exited = children.map(
      (c) => new Promise<number | null>((r) => c.once('exit', (code) => r(code))),
    );
    // Every worker has its store open before any of them starts.
    await Promise.all(children.map((c) => nextMessage(c, 'ready')));
    const done = children.map((c) =>
      nextMessage<{ results: WorkerResult[]; errors: WorkerError[] }>(c, 'done'),
    );
    for (const c of children) c.send({ type: 'go' });
    const reports = await Promise.all(done);
    exitCodes = await Promise.all(exited);
    results = reports.flatMap((r) => r.results);
    errors = reports.flatMap((r) => r.errors);
  }, 180_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const read = <T>(fn: (db: Database) => T): T => {
    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      return fn(db);
    } finally {
      db.close();
    }
  };

  const counterOf = (subject: string, month: string): number =>
    read(
      (db) =>
        (
          db
            .prepare(
              `SELECT COALESCE(SUM(c.used), 0) AS used FROM counters c JOIN subjects s ON s.rid = c.subject_rid
               WHERE s.id = ? AND c.period_key = ? AND c.feature = 'stock_reports'`,
            )
            .get(subject, month) as { used: number }
        ).used,
    );

  /** Every (subject, month) pair the workers raced on. */
  const cells = SUBJECTS.flatMap((subject) => MONTHS.map((month) => ({ subject, month })));

  it('every worker finished cleanly, with no error from any call', () => {
    expect(errors).toEqual([]);
    expect(exitCodes).toEqual(Array.from({ length: WORKERS }, () => 0));
    // 50 rounds × 6 subjects, with one extra call for each own-key retry round.
    const perWorker = SUBJECTS.length * (ROUNDS + Math.ceil((ROUNDS - 1) / 4));
    expect(results).toHaveLength(WORKERS * perWorker);
  });

  it('each subject was created once; the counters are one per subject and month', () => {
    expect(read((db) => db.prepare('SELECT id, plan FROM subjects ORDER BY id').all())).toEqual(
      SUBJECTS.map((id) => ({ id, plan: 'free' })),
    );
    expect(
      read((db) => db.prepare('SELECT DISTINCT period_key FROM counters ORDER BY 1').all()),
    ).toEqual(MONTHS.map((period_key) => ({ period_key })));
    expect(read((db) => db.prepare('SELECT COUNT(*) AS n FROM counters').get())).toEqual({
      n: cells.length,
    });
  });

  it('the processes really interleaved (the race is not run one process at a time)', () => {
    const order = read((db) =>
      db.prepare("SELECT json_extract(meta, '$.worker') AS w FROM events ORDER BY id").all(),
    ) as Array<{ w: number }>;
    let switches = 0;
    for (let i = 1; i < order.length; i += 1) if (order[i]!.w !== order[i - 1]!.w) switches += 1;
    expect(switches).toBeGreaterThan(order.length / 10);
  });

  it('no overshoot: every counter is exactly the limit, never above, although demand was far above it', () => {
    for (const { subject, month } of cells) {
      const demand = results
        .filter((r) => r.subject === subject && r.period === month && !r.replayed)
        .reduce((sum, r) => sum + r.amount, 0);
      expect(demand).toBeGreaterThan(LIMIT * 3);
      expect({ subject, month, used: counterOf(subject, month) }).toEqual({
        subject,
        month,
        used: Math.min(LIMIT, demand),
      });
    }
    expect(read((db) => db.prepare('SELECT MAX(used) AS m FROM counters').get())).toEqual({
      m: LIMIT,
    });
    expect(results.every((r) => r.used <= LIMIT)).toBe(true);
  });

  it('the units the workers were told were granted equal each counter', () => {
    for (const { subject, month } of cells) {
      const granted = results
        .filter((r) => r.subject === subject && r.period === month && r.granted && !r.replayed)
        .reduce((sum, r) => sum + r.amount, 0);
      expect({ subject, month, granted }).toEqual({
        subject,
        month,
        granted: counterOf(subject, month),
      });
    }
  });

  it('no lost update: each counter equals the sum of its events, and grants advanced it one at a time', () => {
    const rows = read((db) =>
      db
        .prepare(
          `SELECT c.subject_rid, c.used, (SELECT COALESCE(SUM(delta), 0) FROM events e WHERE e.subject_rid = c.subject_rid
             AND e.period_start_ms = c.period_start_ms AND e.feature = c.feature) AS total FROM counters c`,
        )
        .all(),
    ) as Array<{ subject_rid: number; used: number; total: number }>;
    expect(rows).toHaveLength(cells.length);
    for (const r of rows) expect(r.used).toBe(r.total);

    // Granted events in commit order: each one's used_after is the previous plus its amount.
    const grants = read((db) =>
      db
        .prepare(
          "SELECT subject_rid, period_start_ms, amount, used_after FROM events WHERE kind = 'consume' AND delta > 0 ORDER BY id",
        )
        .all(),
    ) as Array<{
      subject_rid: number;
      period_start_ms: number;
      amount: number;
      used_after: number;
    }>;
    const running = new Map<string, number>();
    for (const g of grants) {
      const cell = `${g.subject_rid}@${g.period_start_ms}`;
      const next = (running.get(cell) ?? 0) + g.amount;
      expect(g.used_after).toBe(next);
      running.set(cell, next);
    }
    // One event per call that was not a replay: replays wrote nothing.
    const events = read((db) =>
      db.prepare("SELECT COUNT(*) AS n FROM events WHERE kind = 'consume'").get(),
    );
    expect(events).toEqual({ n: results.filter((r) => !r.replayed).length });
  });

  it('verify() on the file finds no counter mismatch and no grant over the limit', async () => {
    const qc = createQuotaClock({ config: { store: `sqlite:${dbPath}` } });
    try {
      const violations = await (await qc.store()).verify(NOW);
      expect(
        violations.filter((v) => v.kind === 'counter_mismatch' || v.kind === 'over_limit'),
      ).toEqual([]);
      for (const [i, month] of MONTHS.entries()) {
        for (const subject of SUBJECTS) {
          const status = await qc.status(subject, { now: MONTH_NOW[i]! });
          expect(status.period.key).toBe(month);
          expect(status.features.stock_reports!.used).toBe(counterOf(subject, month));
        }
      }
    } finally {
      await qc.close();
    }
  });

  it('idempotency across processes: a key shared by all workers counted once and every answer is the same', () => {
    const byKey = new Map<string, WorkerResult[]>();
    for (const r of results.filter((x) => x.kind === 'shared'))
      byKey.set(r.key!, [...(byKey.get(r.key!) ?? []), r]);
    expect(byKey.size).toBe(SUBJECTS.length * Math.ceil(ROUNDS / 4));
    for (const [key, answers] of byKey) {
      expect(answers).toHaveLength(WORKERS);
      expect({ key, fresh: answers.filter((a) => !a.replayed).length }).toEqual({ key, fresh: 1 });
      const outcome = ({ granted, used, limit, remaining, period, reason }: WorkerResult) => ({
        granted,
        used,
        limit,
        remaining,
        period,
        reason,
      });
      for (const a of answers) expect(outcome(a)).toEqual(outcome(answers[0]!));
    }
    const keyed = read((db) =>
      db
        .prepare(
          "SELECT idem_key, COUNT(*) AS n FROM events WHERE idem_key LIKE '%:shared:%' GROUP BY idem_key HAVING n > 1",
        )
        .all(),
    );
    expect(keyed).toEqual([]);
  });

  it('a client retry of its own key is replayed with the first answer', () => {
    const firsts = results.filter((r) => r.kind === 'first');
    const retries = results.filter((r) => r.kind === 'retry');
    expect(retries).toHaveLength(firsts.length);
    for (const first of firsts) {
      expect(first.replayed).toBe(false);
      const retry = retries.find((r) => r.key === first.key)!;
      expect(retry).toEqual({ ...first, kind: 'retry', replayed: true });
    }
  });

  it('denials said quota_exceeded and reported the counter at that moment', () => {
    const denied = results.filter((r) => !r.granted);
    expect(denied.length).toBeGreaterThan(0);
    for (const d of denied) {
      expect(d.reason).toBe('quota_exceeded');
      expect(d.used + d.amount).toBeGreaterThan(LIMIT);
    }
  });
});
