// npm run bench:postgres-close — closing a month for N subjects on PostgreSQL,
// against (1) the set-based single-statement floor doing the same durable
// work (archive row + mark move per subject) on the same data, and (2) the old
// scripts' per-user read-then-write loop, timed on a sample and scaled.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { createQuotaClock } from '../dist/index.js';
import { machine } from './lib/machine.js';

const BASE = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.env.BENCH_SUBJECTS ?? 1_000_000);
const LOOP_SAMPLE = Math.min(N, Number(process.env.BENCH_LOOP_SAMPLE ?? 20_000));
const SEED_AT = Date.parse('2026-10-10T00:00:00Z');
const OCT = Date.parse('2026-10-01T00:00:00Z');
const NOV = Date.parse('2026-11-01T00:00:00Z');
const DEC = Date.parse('2026-12-01T00:00:00Z');
const CLOSE_AT = '2026-11-01T00:01:00.000Z';
const tag = `${process.pid}_${Date.now().toString(36)}`;
const url = (schema) => `${BASE}${BASE.includes('?') ? '&' : '?'}schema=${schema}`;
const log = (...a) => console.error(...a);
const client = new pg.Client({ connectionString: BASE });
await client.connect();

async function seed(schema, n) {
  const qc = createQuotaClock({ config: { store: url(schema) }, clock: () => SEED_AT });
  await qc.init();
  await qc.close();
  // Rows as the library writes them (subjects on the four plans, one October
  // counter and one consume event each), generated in bulk to keep setup short.
  await client.query(`
    INSERT INTO ${schema}.subjects (id, plan, anchor_ms, created_ms, closed_through_ms, open_end_ms, open_key)
      SELECT 'u' || lpad(g::text, 8, '0'), (ARRAY['free','pro','pro_plus','enterprise'])[g % 4 + 1],
             ${SEED_AT}, ${SEED_AT}, ${OCT}, ${NOV}, '2026-10' FROM generate_series(1, ${n}) g;
    INSERT INTO ${schema}.counters (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
      SELECT rid, ${OCT}, 'stock_reports', ${NOV}, '2026-10', (rid % 9) + 1 FROM ${schema}.subjects;
    INSERT INTO ${schema}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after)
      SELECT subject_rid, 'consume', feature, period_start_ms, period_end_ms, ${SEED_AT}, used, used, used FROM ${schema}.counters;
  `);
  await client.query(`VACUUM ANALYZE ${schema}.subjects`);
  await client.query(`VACUUM ANALYZE ${schema}.counters`);
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function floor(schema) {
  return timed(async () => {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO ${schema}.closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms)
       SELECT rid, closed_through_ms, open_end_ms, open_key, plan, '{"stock_reports":10}', $1 FROM ${schema}.subjects WHERE open_end_ms <= $1`,
      [Date.parse(CLOSE_AT)],
    );
    await client.query(
      `UPDATE ${schema}.subjects SET closed_through_ms = $2, open_end_ms = $3, open_key = '2026-11' WHERE open_end_ms <= $1`,
      [Date.parse(CLOSE_AT), NOV, DEC],
    );
    await client.query('COMMIT');
  });
}

function ours(schema, options = '') {
  const out = execFileSync(
    process.execPath,
    [join(import.meta.dirname, 'reset-child.js'), `${url(schema)}${options}`, CLOSE_AT],
    { encoding: 'utf8' },
  );
  return JSON.parse(out.trim());
}

/** The old scripts: read each user, then write each user in its own transaction, one at a time. */
async function oldLoop(schema) {
  const now = Date.parse(CLOSE_AT);
  const ms = await timed(async () => {
    for (let rid = 1; rid <= LOOP_SAMPLE; rid += 1) {
      const { rows } = await client.query(
        `SELECT s.rid, s.plan, s.closed_through_ms, s.open_end_ms, s.open_key, c.used FROM ${schema}.subjects s
         LEFT JOIN ${schema}.counters c ON c.subject_rid = s.rid AND c.period_start_ms = s.closed_through_ms WHERE s.rid = $1`,
        [rid],
      );
      const u = rows[0];
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO ${schema}.closed_periods (subject_rid, start_ms, end_ms, period_key, plan, limits, closed_ms) VALUES ($1, $2, $3, $4, $5, '{}', $6)`,
        [u.rid, u.closed_through_ms, u.open_end_ms, u.open_key, u.plan, now],
      );
      await client.query(
        `UPDATE ${schema}.subjects SET closed_through_ms = $1, open_end_ms = $2, open_key = '2026-11' WHERE rid = $3`,
        [NOV, DEC, u.rid],
      );
      await client.query('COMMIT');
    }
  });
  return { ms, scaledMs: (ms * N) / LOOP_SAMPLE };
}

/** Puts a closed schema back to its seeded state (marks in October, nothing archived), vacuumed. */
async function reopen(schema) {
  await client.query(
    `UPDATE ${schema}.subjects SET closed_through_ms = ${OCT}, open_end_ms = ${NOV}, open_key = '2026-10'`,
  );
  await client.query(`TRUNCATE ${schema}.closed_periods, ${schema}.runs, ${schema}.leases`);
  await client.query(`VACUUM ANALYZE ${schema}.subjects, ${schema}.closed_periods`);
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const schemas = {
  floor: `qc_bench_floor_${tag}`,
  ours: `qc_bench_ours_${tag}`,
  loop: `qc_bench_loop_${tag}`,
};
try {
  log(`seeding ${N.toLocaleString()} subjects twice and ${LOOP_SAMPLE.toLocaleString()} once …`);
  await seed(schemas.floor, N);
  await seed(schemas.ours, N);
  await seed(schemas.loop, LOOP_SAMPLE);
  // Floor and ours take turns on the same server, and the ratio is taken per
  // round, so the shared machine's swings hit both sides of each ratio alike.
  const rounds = [];
  for (let r = 0; r < ROUNDS; r += 1) {
    if (r > 0) {
      await reopen(schemas.floor);
      await reopen(schemas.ours);
    }
    await client.query('CHECKPOINT');
    const floorMs = await floor(schemas.floor);
    // Vacuumed now, so autovacuum does not clean up after one contender while the other is timed.
    await client.query(`VACUUM ANALYZE ${schemas.floor}.subjects, ${schemas.floor}.closed_periods`);
    await client.query('CHECKPOINT');
    const o = ours(schemas.ours);
    await client.query(`VACUUM ANALYZE ${schemas.ours}.subjects, ${schemas.ours}.closed_periods`);
    if (o.subjects !== N) throw new Error(`our reset closed ${o.subjects} subjects, expected ${N}`);
    // For context, not the target: the same reset on one connection (the
    // default runs each batch as two parts on two connections).
    await reopen(schemas.ours);
    await client.query('CHECKPOINT');
    const single = ours(schemas.ours, '&close_parallel=1');
    await client.query(`VACUUM ANALYZE ${schemas.ours}.subjects, ${schemas.ours}.closed_periods`);
    if (single.subjects !== N)
      throw new Error(`our reset closed ${single.subjects} subjects, expected ${N}`);
    rounds.push({
      floorMs,
      oursMs: o.ms,
      singleMs: single.ms,
      rssMb: Math.max(o.maxRssMb, single.maxRssMb),
      ratio: o.ms / floorMs,
      singleRatio: single.ms / floorMs,
    });
    log(
      `round ${r + 1}: floor ${floorMs.toFixed(0)} ms, ours ${o.ms.toFixed(0)} ms (×${(o.ms / floorMs).toFixed(2)}), ` +
        `ours on one connection ${single.ms.toFixed(0)} ms (×${(single.ms / floorMs).toFixed(2)}), peak RSS ${o.maxRssMb.toFixed(0)} MB`,
    );
  }
  const l = await oldLoop(schemas.loop);
  log(`old loop: ${l.ms.toFixed(0)} ms for ${LOOP_SAMPLE.toLocaleString()}`);
  const oursMs = median(rounds.map((r) => r.oursMs));
  const floorMs = median(rounds.map((r) => r.floorMs));
  const ratio = median(rounds.map((r) => r.ratio));
  const singleMs = median(rounds.map((r) => r.singleMs));
  const singleRatio = median(rounds.map((r) => r.singleRatio));
  const rss = Math.max(...rounds.map((r) => r.rssMb));
  const { rows } = await client.query('SHOW server_version');
  console.log(`machine: ${machine()}, PostgreSQL ${rows[0].server_version}`);
  const out = [
    ['close of', `${N.toLocaleString()} subjects`, `median of ${ROUNDS} alternating rounds`],
    ['quotaclock reset (its own process)', `${(oursMs / 1000).toFixed(2)} s`, ''],
    [
      '  the same on one connection (close_parallel=1)',
      `${(singleMs / 1000).toFixed(2)} s`,
      `ours/floor = ${singleRatio.toFixed(2)}× (rounds ${rounds.map((r) => r.singleRatio.toFixed(2)).join(', ')}; for context)`,
    ],
    [
      'set-based floor (one transaction)',
      `${(floorMs / 1000).toFixed(2)} s`,
      `ours/floor = ${ratio.toFixed(2)}× (rounds ${rounds.map((r) => r.ratio.toFixed(2)).join(', ')}; target ≤ 1.5×)`,
    ],
    [
      `old per-user loop (${LOOP_SAMPLE.toLocaleString()} timed, scaled)`,
      `${(l.scaledMs / 1000).toFixed(1)} s`,
      `loop/ours = ${(l.scaledMs / oursMs).toFixed(1)}× (target ≥ 100×)`,
    ],
    ['peak RSS of the reset process', `${rss.toFixed(0)} MB`, '(target < 256 MB)'],
  ];
  for (const r of out) console.log(`${r[0].padEnd(44)} ${r[1].padStart(16)}  ${r[2]}`);
} finally {
  for (const s of Object.values(schemas)) await client.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
  await client.end();
}
