// npm run bench:reset — closing a month for N subjects on SQLite, against
// (1) the set-based single-statement floor doing the same durable work
// (archive row + mark move per subject) on the same data, and (2) the old
// Python system's per-user read-then-write loop, timed on a sample and scaled.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Database } from '../dist/store/sqlite/driver.js';
import { createQuotaClock } from '../dist/index.js';
import { machine } from './lib/machine.js';

const N = Number(process.env.BENCH_SUBJECTS ?? 1_000_000);
const LOOP_SAMPLE = Math.min(N, Number(process.env.BENCH_LOOP_SAMPLE ?? 100_000));
const SEED_AT = Date.parse('2026-10-10T00:00:00Z');
const CLOSE_AT = '2026-11-01T00:01:00.000Z';
const dir = mkdtempSync(join(tmpdir(), 'qc-bench-reset-'));
const template = join(dir, 'template.db');

function log(...a) {
  console.error(...a);
}

async function seed() {
  const qc = createQuotaClock({
    config: { store: `sqlite:${template}?synchronous=normal` },
    clock: () => SEED_AT,
  });
  await qc.init();
  const plans = ['free', 'pro', 'pro_plus', 'enterprise'];
  for (let i = 0; i < N; i += 50_000) {
    const chunk = [];
    for (let j = i; j < Math.min(N, i + 50_000); j += 1)
      chunk.push({ id: `u${String(j).padStart(8, '0')}`, plan: plans[j % 4] });
    await qc.importSubjects(chunk);
  }
  await qc.close();
  // Usage: the counters and events the library's consume would have written
  // (one consume event per subject), inserted in bulk to keep setup short.
  const db = new Database(template);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.exec(`
    INSERT INTO counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
      SELECT rid, closed_through_ms, 'stock_reports', open_end_ms, open_key, (rid % 9) + 1 FROM subjects;
    INSERT INTO events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at)
      SELECT subject_rid, 'consume', feature, period_start_ms, period_end_ms, ${SEED_AT}, used, used, used, NULL FROM counters;
  `);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function copy(name) {
  const p = join(dir, name);
  copyFileSync(template, p);
  return p;
}

function open(path) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  return db;
}

function ours() {
  const p = copy('ours.db');
  const out = execFileSync(
    process.execPath,
    [join(import.meta.dirname, 'reset-child.js'), p, CLOSE_AT],
    { encoding: 'utf8' },
  );
  return JSON.parse(out.trim());
}

/** The floor: the same durable work as one set-based statement per table, one transaction. */
function floor() {
  const db = open(copy('floor.db'));
  const now = Date.parse(CLOSE_AT);
  const next = {
    start: Date.parse('2026-11-01T00:00:00Z'),
    end: Date.parse('2026-12-01T00:00:00Z'),
  };
  const t0 = process.hrtime.bigint();
  db.transaction(() => {
    db.prepare(
      `INSERT INTO closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms)
       SELECT rid, closed_through_ms, open_end_ms, open_key, plan, '{"stock_reports":10}', ? FROM subjects WHERE open_end_ms <= ?`,
    ).run(now, now);
    db.prepare(
      `UPDATE subjects SET closed_through_ms = ?, open_end_ms = ?, open_key = '2026-11' WHERE open_end_ms <= ?`,
    ).run(next.start, next.end, now);
  }).immediate();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  db.close();
  return { ms };
}

/** The old scripts: read each user, then write each user, one at a time. */
function oldLoop() {
  const db = open(copy('loop.db'));
  const now = Date.parse(CLOSE_AT);
  const read = db.prepare(
    `SELECT s.rid, s.plan, s.closed_through_ms, s.open_end_ms, s.open_key, c.used FROM subjects s
     LEFT JOIN counters c ON c.subject_rid = s.rid AND c.period_start_ms = s.closed_through_ms WHERE s.rid = ?`,
  );
  const archive = db.prepare(
    `INSERT INTO closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms) VALUES (?, ?, ?, ?, ?, '{}', ?)`,
  );
  const zero = db.prepare(
    `UPDATE subjects SET closed_through_ms = ?, open_end_ms = ?, open_key = '2026-11' WHERE rid = ?`,
  );
  const write = db.transaction((u) => {
    archive.run(u.rid, u.closed_through_ms, u.open_end_ms, u.open_key, u.plan, now);
    zero.run(u.open_end_ms, u.open_end_ms + 30 * 86_400_000, u.rid);
  });
  const t0 = process.hrtime.bigint();
  for (let rid = 1; rid <= LOOP_SAMPLE; rid += 1) {
    const u = read.get(rid);
    write(u);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  db.close();
  return { ms, scaledMs: (ms * N) / LOOP_SAMPLE };
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

log(`seeding ${N.toLocaleString()} subjects in ${dir} …`);
const s0 = Date.now();
await seed();
log(`seeded in ${((Date.now() - s0) / 1000).toFixed(1)} s`);
// Floor and ours alternate, and the ratio is taken per round, so the shared
// machine's swings hit both sides of each ratio alike.
const rounds = [];
for (let r = 0; r < ROUNDS; r += 1) {
  const f = floor();
  const o = ours();
  if (o.subjects !== N) throw new Error(`our reset closed ${o.subjects} subjects, expected ${N}`);
  rounds.push({ floorMs: f.ms, oursMs: o.ms, rssMb: o.maxRssMb, ratio: o.ms / f.ms });
  log(
    `round ${r + 1}: floor ${f.ms.toFixed(0)} ms, ours ${o.ms.toFixed(0)} ms (×${(o.ms / f.ms).toFixed(2)}), peak RSS ${o.maxRssMb.toFixed(0)} MB`,
  );
}
const l = oldLoop();
log(
  `old loop: ${l.ms.toFixed(0)} ms for ${LOOP_SAMPLE.toLocaleString()}, scaled ${(l.scaledMs / 1000).toFixed(1)} s`,
);
const oursMs = median(rounds.map((r) => r.oursMs));
const floorMs = median(rounds.map((r) => r.floorMs));
const ratio = median(rounds.map((r) => r.ratio));
const rss = Math.max(...rounds.map((r) => r.rssMb));

const rows = [
  ['close of', `${N.toLocaleString()} subjects`, `median of ${ROUNDS} alternating rounds`],
  ['quotaclock reset (its own process)', `${(oursMs / 1000).toFixed(2)} s`, ''],
  [
    'set-based floor (one transaction)',
    `${(floorMs / 1000).toFixed(2)} s`,
    `ours/floor = ${ratio.toFixed(2)}× (target ≤ 1.5×)`,
  ],
  [
    `old per-user loop (${LOOP_SAMPLE.toLocaleString()} timed, scaled)`,
    `${(l.scaledMs / 1000).toFixed(1)} s`,
    `loop/ours = ${(l.scaledMs / oursMs).toFixed(1)}× (target ≥ 20×)`,
  ],
  ['peak RSS of the reset process', `${rss.toFixed(0)} MB`, '(target < 256 MB)'],
];
console.log(`machine: ${machine()}`);
for (const r of rows) console.log(`${r[0].padEnd(44)} ${r[1].padStart(16)}  ${r[2]}`);
if (process.env.BENCH_KEEP) log(`kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
