// npm run bench:consume — consume throughput of quotaclock on SQLite against two
// floors measured in the same run, each on a fresh file of the same kind
// (schema from the library's own migrations, WAL, the same synchronous mode
// and busy_timeout as src/store/sqlite/connection.ts):
//   physics:   a raw prepared guarded UPDATE … WHERE used + n <= limit on one
//              row, autocommit;
//   same-work: hand-written better-sqlite3 code doing the durable work of one
//              consume: guarded counter upsert + event row, one IMMEDIATE
//              transaction;
//   ours:      qc.consume() through the library (a big override, so every call
//              is granted through the guarded statement).
// Each round opens the three variants on fresh files and then alternates
// short slices of them (physics, same-work, ours, physics, …) so that all three
// see the same disk and CPU conditions: on a shared machine fsync latency drifts
// by 10× within seconds, which would swamp back-to-back measurements. The
// table reports per-round ops/s and the median over rounds. Only ratios from
// one run are comparable.
//
// env: BENCH_SECONDS (per variant per round, default 5), BENCH_ROUNDS (default 3),
//      BENCH_SLICE_MS (default 100),
//      BENCH_SYNC (FULL | NORMAL | both; default both: FULL is the durable
//      default and the target, NORMAL shows the CPU cost once fsync is gone).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../dist/store/sqlite/driver.js';
import { createQuotaClock } from '../dist/index.js';
import { machine } from './lib/machine.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SLICE_MS = Number(process.env.BENCH_SLICE_MS ?? 100);
const SYNC_MODES =
  (process.env.BENCH_SYNC ?? 'both').toUpperCase() === 'BOTH'
    ? ['FULL', 'NORMAL']
    : [process.env.BENCH_SYNC.toUpperCase()];
const BUSY_TIMEOUT_MS = 30_000; // as openSqlite's default
const WARMUP = 200;
const LIMIT = 1_000_000_000_000;
const FEATURE = 'stock_reports';
const SUBJECT = 'bench-user';

const dir = mkdtempSync(join(tmpdir(), 'qc-bench-consume-'));
let files = 0;
const log = (...a) => console.error(...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A fresh file with the library's schema and one subject, as every variant starts from. */
async function freshFile(sync) {
  files += 1;
  const path = join(dir, `bench-${files}.db`);
  const qc = createQuotaClock({
    config: { store: `sqlite:${path}?synchronous=${sync.toLowerCase()}` },
  });
  await qc.init();
  await qc.addSubject({ id: SUBJECT, overrides: { [FEATURE]: LIMIT } });
  await qc.close();
  return path;
}

/** A hand-written connection with the same settings as src/store/sqlite/connection.ts. */
function openRaw(path, sync) {
  const db = new Database(path);
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync}`);
  db.pragma('foreign_keys = ON');
  return db;
}

/** The calendar month in UTC containing now, as hand-written code would compute it. */
function monthOf(nowMs) {
  const d = new Date(nowMs);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  const key = `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
  return { start, end, key };
}

/**
 * Each variant is set up on its own fresh file and returns { op, isAsync, close };
 * op performs one granted consume.
 */
const NAMES = ['physics', 'sameWork', 'ours'];
const variants = {
  async physics(sync) {
    const path = await freshFile(sync);
    const db = openRaw(path, sync);
    const p = monthOf(Date.now());
    const rid = db.prepare('SELECT rid FROM subjects WHERE id = ?').get(SUBJECT).rid;
    db.prepare(
      `INSERT INTO counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used) VALUES (?, ?, ?, ?, ?, 0)`,
    ).run(rid, p.start, FEATURE, p.end, p.key);
    const update = db.prepare(
      'UPDATE counters SET used = used + ? WHERE subject_rid = ? AND period_start_ms = ? AND feature = ? AND used + ? <= ?',
    );
    return {
      isAsync: false,
      op() {
        if (update.run(1, rid, p.start, FEATURE, 1, LIMIT).changes !== 1)
          throw new Error('not granted');
      },
      close: async () => db.close(),
    };
  },

  async sameWork(sync) {
    const path = await freshFile(sync);
    const db = openRaw(path, sync);
    const rid = db.prepare('SELECT rid FROM subjects WHERE id = ?').get(SUBJECT).rid;
    // The library's own guarded upsert and event insert (src/store/sqlite/usage.ts).
    const upsert = db.prepare(
      `INSERT INTO counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
       SELECT @rid, @start, @feature, @end, @key, @amount WHERE @amount <= @limit
       ON CONFLICT (subject_rid, period_start_ms, feature)
       DO UPDATE SET used = counters.used + excluded.used WHERE counters.used + excluded.used <= @limit
       RETURNING used`,
    );
    const insertEvent = db.prepare(
      `INSERT INTO events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at, idem_key, outcome, meta)
       VALUES (?, 'consume', ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)`,
    );
    const consume = db.transaction((amount) => {
      const now = Date.now();
      const p = monthOf(now);
      const row = upsert.get({
        rid,
        start: p.start,
        end: p.end,
        key: p.key,
        feature: FEATURE,
        amount,
        limit: LIMIT,
      });
      const granted = row !== undefined;
      insertEvent.run(
        rid,
        FEATURE,
        p.start,
        p.end,
        now,
        amount,
        granted ? amount : 0,
        row?.used ?? 0,
        LIMIT,
      );
      return granted;
    });
    return {
      isAsync: false,
      op() {
        if (!consume.immediate(1)) throw new Error('not granted');
      },
      close: async () => db.close(),
    };
  },

  async ours(sync) {
    const path = await freshFile(sync);
    const qc = createQuotaClock({
      config: { store: `sqlite:${path}?synchronous=${sync.toLowerCase()}` },
    });
    await qc.store();
    return {
      isAsync: true,
      async op() {
        if (!(await qc.consume(SUBJECT, FEATURE, 1)).granted) throw new Error('not granted');
      },
      close: () => qc.close(),
    };
  },
};

/** Runs v.op for about ms; returns { n, ns }. */
async function slice(v, ms) {
  const budget = BigInt(Math.round(ms * 1e6));
  let n = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0n;
  do {
    if (v.isAsync) for (let i = 0; i < 10; i += 1) await v.op();
    else for (let i = 0; i < 10; i += 1) v.op();
    n += 10;
    elapsed = process.hrtime.bigint() - t0;
  } while (elapsed < budget);
  return { n, ns: elapsed };
}

/** One round: fresh files, warm-up, then interleaved slices; returns ops/s per variant. */
async function round(sync, r) {
  const open = {};
  for (const name of NAMES) open[name] = await variants[name](sync);
  for (const name of NAMES) {
    const v = open[name];
    for (let i = 0; i < WARMUP; i += 1) await v.op();
  }
  const total = Object.fromEntries(NAMES.map((n) => [n, { n: 0, ns: 0n }]));
  const slices = Math.max(1, Math.round((SECONDS * 1000) / SLICE_MS));
  for (let s = 0; s < slices; s += 1) {
    for (let i = 0; i < NAMES.length; i += 1) {
      const name = NAMES[(i + s + r) % NAMES.length];
      const t = await slice(open[name], SLICE_MS);
      total[name].n += t.n;
      total[name].ns += t.ns;
    }
  }
  for (const name of NAMES) await open[name].close();
  return Object.fromEntries(NAMES.map((n) => [n, total[n].n / (Number(total[n].ns) / 1e9)]));
}

const LABELS = {
  physics: 'physics floor (guarded UPDATE, autocommit)',
  sameWork: 'same-work floor (upsert + event, IMMEDIATE tx)',
  ours: 'quotaclock qc.consume()',
};

log(
  `consume benchmark: ${ROUNDS} rounds × ${SECONDS} s per variant in ${SLICE_MS} ms slices, files in ${dir}`,
);
const report = {};
try {
  for (const sync of SYNC_MODES) {
    const samples = Object.fromEntries(NAMES.map((n) => [n, []]));
    for (let r = 0; r < ROUNDS; r += 1) {
      const opsPerSec = await round(sync, r);
      for (const name of NAMES) samples[name].push(opsPerSec[name]);
      log(
        `  synchronous=${sync} round ${r + 1}: ${NAMES.map((n) => `${n} ${opsPerSec[n].toFixed(0)}`).join(', ')} ops/s`,
      );
    }
    report[sync] = Object.fromEntries(
      NAMES.map((n) => [n, { median: median(samples[n]), samples: samples[n] }]),
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (x) => Math.round(x).toLocaleString('en-US');
console.log(`machine: ${machine()}`);
console.log(
  `command: npm run bench:consume (BENCH_SECONDS=${SECONDS} BENCH_ROUNDS=${ROUNDS} BENCH_SLICE_MS=${SLICE_MS}), WAL, busy_timeout=${BUSY_TIMEOUT_MS} ms`,
);
for (const sync of SYNC_MODES) {
  const m = report[sync];
  console.log('');
  console.log(
    `synchronous=${sync}${sync === 'FULL' ? ' (the default: every grant is fsynced)' : ''}`,
  );
  console.log(`| variant | median ops/s | rounds (ops/s) |`);
  console.log(`|---|---:|---|`);
  for (const n of NAMES)
    console.log(`| ${LABELS[n]} | ${fmt(m[n].median)} | ${m[n].samples.map(fmt).join(', ')} |`);
  const perRound = (floor) => median(m.ours.samples.map((o, i) => o / m[floor].samples[i]));
  const vsSame = perRound('sameWork');
  const vsPhysics = perRound('physics');
  console.log('');
  console.log(
    `ours / same-work = ${vsSame.toFixed(2)}× (median of per-round ratios; target ≥ 0.80×)${sync === 'FULL' ? (vsSame >= 0.8 ? '  PASS' : '  BELOW TARGET') : ''}`,
  );
  console.log(`ours / physics   = ${vsPhysics.toFixed(2)}×`);
  console.log(
    `ratio of medians: ours / same-work = ${(m.ours.median / m.sameWork.median).toFixed(2)}×, ours / physics = ${(m.ours.median / m.physics.median).toFixed(2)}×`,
  );
}
