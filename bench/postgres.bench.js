// npm run bench:postgres — consume throughput of quotaclock on PostgreSQL with
// 16 concurrent clients, against pgbench with the same number of clients on
// the same database, tables and indexes:
//   same-work: the durable work of one consume as ONE statement (guarded
//              counter upsert + event row, a data-modifying CTE);
//   bare:      a guarded single-row UPDATE (the physics floor).
// Only ratios measured in one run are comparable.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { URLSearchParams } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { createQuotaClock } from '../dist/index.js';
import { dropPostgresSchema } from '../dist/store/postgres/index.js';
import { machine } from './lib/machine.js';

const BASE_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const SUBJECTS = Number(process.env.BENCH_SUBJECTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCHEMA = 'qc_bench_consume';
const LIMIT = 1_000_000_000;
const NOW = Date.parse('2026-11-10T12:00:00Z');
const PERIOD = {
  start: Date.parse('2026-11-01T00:00:00Z'),
  end: Date.parse('2026-12-01T00:00:00Z'),
  key: '2026-11',
};

const log = (...a) => console.error(...a);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Extra store URL options for quotaclock only, e.g. BENCH_STORE_OPTIONS='grant_slots=2'. */
const STORE_OPTIONS = new URLSearchParams(process.env.BENCH_STORE_OPTIONS ?? '');

function storeUrl() {
  const u = new URL(BASE_URL);
  u.searchParams.set('schema', SCHEMA);
  u.searchParams.set('pool', String(CLIENTS));
  for (const [k, v] of STORE_OPTIONS) u.searchParams.set(k, v);
  return u.toString();
}

function pgbenchPath() {
  for (const candidate of ['pgbench']) {
    try {
      execFileSync('which', [candidate], { stdio: 'pipe' });
      return candidate;
    } catch {
      // try the versioned install below
    }
  }
  const dirs = execFileSync('sh', ['-c', 'ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true'], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .filter(Boolean);
  if (dirs.length === 0)
    throw new Error('pgbench not found (install postgresql-contrib or the server package)');
  return join(dirs[dirs.length - 1], 'pgbench');
}

function pgbench(bin, script, name) {
  const dir = mkdtempSync(join(tmpdir(), 'qc-pgbench-'));
  const file = join(dir, `${name}.sql`);
  writeFileSync(file, script);
  const u = new URL(BASE_URL);
  const args = [
    '-h',
    u.hostname,
    '-p',
    u.port || '5432',
    '-U',
    decodeURIComponent(u.username || 'postgres'),
    '-n',
    '-c',
    String(CLIENTS),
    '-j',
    '2',
    '-M',
    'prepared',
    '-T',
    String(SECONDS),
    '-D',
    `nsubjects=${SUBJECTS}`,
    '-f',
    file,
    u.pathname.slice(1),
  ];
  log(`pgbench ${name}: ${args.join(' ')}`);
  const out = execFileSync(bin, args, {
    encoding: 'utf8',
    env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password) },
  });
  rmSync(dir, { recursive: true, force: true });
  const m = /tps = ([\d.]+) \(without initial connection time\)/.exec(out);
  if (!m) throw new Error(`cannot read pgbench output:\n${out}`);
  return Number(m[1]);
}

/** The same durable work as one quotaclock consume, hand-written as one statement. */
const SAME_WORK = `\\set rid random(1, :nsubjects)
WITH up AS (
  INSERT INTO ${SCHEMA}.counters AS c (subject_rid, period_start_ms, feature, period_end_ms, period_key, used)
  VALUES (:rid, ${PERIOD.start}, 'stock_reports', ${PERIOD.end}, '${PERIOD.key}', 1)
  ON CONFLICT (subject_rid, period_start_ms, feature)
  DO UPDATE SET used = c.used + excluded.used WHERE c.used + excluded.used <= ${LIMIT}
  RETURNING used
)
INSERT INTO ${SCHEMA}.events (subject_rid, kind, feature, period_start_ms, period_end_ms, at_ms, amount, delta, used_after, limit_at)
SELECT :rid, 'consume', 'stock_reports', ${PERIOD.start}, ${PERIOD.end}, ${NOW}, 1, 1, used, ${LIMIT} FROM up;
`;

/** The physics floor: one guarded single-row update, no event. */
const BARE = `\\set rid random(1, :nsubjects)
UPDATE ${SCHEMA}.counters SET used = used + 1
WHERE subject_rid = :rid AND period_start_ms = ${PERIOD.start} AND feature = 'stock_reports' AND used + 1 <= ${LIMIT};
`;

/**
 * The Node side runs as JOBS worker threads sharing the CLIENTS clients, as
 * pgbench's -j 2 splits its clients over two threads (and as a deployment
 * runs several Node processes). Each worker opens its own store or pool,
 * warms up, then all start together on the main thread's signal.
 */
const JOBS = Number(process.env.BENCH_JOBS ?? 2);

async function workerLoop({ kind, url, clients, seconds, ids }) {
  let call;
  let close;
  if (kind === 'quotaclock') {
    const u = new URL(url);
    u.searchParams.set('pool', String(clients));
    const qc = createQuotaClock({
      config: {
        store: u.toString(),
        plans: { bench: { limits: { stock_reports: LIMIT } } },
        defaultPlan: 'bench',
      },
    });
    call = async (i) => {
      const r = await qc.consume(ids[i], 'stock_reports', 1, { now: NOW });
      if (!r.granted)
        throw new Error('a consume was denied; the bench limit is meant to be out of reach');
    };
    close = () => qc.close();
  } else {
    const pool = new pg.Pool({ connectionString: BASE_URL, max: clients });
    // The same-work statement sent by node-postgres, named and prepared like pgbench -M prepared.
    const text = SAME_WORK.split('\n')
      .slice(1)
      .join('\n')
      .replaceAll(':rid', '$1')
      .replace(/;\s*$/, '');
    call = (i) => pool.query({ name: 'same_work', text, values: [i + 1] });
    close = () => pool.end();
  }
  const loop = async (until) => {
    let done = 0;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (Date.now() < until) {
          await call(Math.floor(Math.random() * ids.length));
          done += 1;
        }
      }),
    );
    return done;
  };
  await loop(Date.now() + 1000);
  parentPort.postMessage({ ready: true });
  const start = await new Promise((r) => parentPort.once('message', r));
  const t0 = process.hrtime.bigint();
  const done = await loop(start.at + seconds * 1000);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  await close();
  parentPort.postMessage({ done, secs });
}

/** Ops/s of one kind of Node client, CLIENTS clients over JOBS worker threads. */
async function nodeRun(kind, ids, seconds) {
  const per = Array.from(
    { length: JOBS },
    (_, j) => Math.floor(CLIENTS / JOBS) + (j < CLIENTS % JOBS ? 1 : 0),
  );
  const workers = per.map(
    (clients) =>
      new Worker(new URL(import.meta.url), {
        workerData: { kind, url: storeUrl(), clients, seconds, ids },
      }),
  );
  const next = (w) =>
    new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  await Promise.all(workers.map(next));
  const results = workers.map(next);
  const at = Date.now() + 50;
  for (const w of workers) w.postMessage({ at });
  const out = await Promise.all(results);
  return out.reduce((n, r) => n + r.done, 0) / Math.max(...out.map((r) => r.secs));
}

async function serverInfo() {
  const c = new pg.Client({ connectionString: BASE_URL });
  await c.connect();
  const v = (await c.query('SHOW server_version')).rows[0].server_version;
  const sc = (await c.query('SHOW synchronous_commit')).rows[0].synchronous_commit;
  const fsync = (await c.query('SHOW fsync')).rows[0].fsync;
  await c.end();
  return { version: v, synchronousCommit: sc, fsync };
}

async function vacuum() {
  const c = new pg.Client({ connectionString: BASE_URL });
  await c.connect();
  await c.query(`VACUUM ANALYZE ${SCHEMA}.counters, ${SCHEMA}.events`);
  await c.end();
}

async function main() {
  const bin = pgbenchPath();
  const server = await serverInfo();
  const url = storeUrl();
  await dropPostgresSchema(url);
  const qc = createQuotaClock({
    config: {
      store: url,
      plans: { bench: { limits: { stock_reports: LIMIT } } },
      defaultPlan: 'bench',
    },
  });
  await qc.init();
  const ids = Array.from({ length: SUBJECTS }, (_, i) => `bench-${i + 1}`);
  await qc.importSubjects(
    ids.map((id) => ({ id })),
    { now: NOW },
  );
  // One consume each creates the counter rows, so every run updates existing rows; rids are 1..N.
  for (const id of ids) await qc.consume(id, 'stock_reports', 1, { now: NOW });
  await vacuum();

  // Rounds interleave the three contenders, so a busy neighbour slows all of them alike.
  const runs = { ours: [], sameWork: [], bare: [], driver: [] };
  let violations = null;
  for (let round = 1; round <= ROUNDS; round += 1) {
    log(
      `round ${round}/${ROUNDS}: quotaclock consume, ${CLIENTS} clients on ${JOBS} threads, ${SECONDS} s`,
    );
    runs.ours.push(await nodeRun('quotaclock', ids, SECONDS));
    // Checked before the bare floor runs: its updates have no events by design.
    violations ??= (await (await qc.store()).verify(NOW)).filter(
      (v) => v.kind === 'counter_mismatch' || v.kind === 'over_limit',
    );
    await vacuum();
    runs.sameWork.push(pgbench(bin, SAME_WORK, 'same-work'));
    await vacuum();
    runs.bare.push(pgbench(bin, BARE, 'bare'));
    await vacuum();
    log(
      `round ${round}/${ROUNDS}: node-postgres same-work, ${CLIENTS} clients on ${JOBS} threads, ${SECONDS} s`,
    );
    runs.driver.push(await nodeRun('driver', ids, SECONDS));
    await vacuum();
  }
  await qc.close();
  await dropPostgresSchema(url);
  const ours = median(runs.ours);
  const sameWork = median(runs.sameWork);
  const bare = median(runs.bare);
  // Each round's ratio pairs runs that shared the machine's conditions; the headline is their median.
  const vsSameWork = runs.ours.map((x, i) => x / runs.sameWork[i]);
  const vsBare = runs.ours.map((x, i) => x / runs.bare[i]);
  const vsDriver = runs.ours.map((x, i) => x / runs.driver[i]);

  const result = {
    machine: machine(),
    postgres: `PostgreSQL ${server.version} (synchronous_commit=${server.synchronousCommit}, fsync=${server.fsync})`,
    clients: CLIENTS,
    nodeThreads: JOBS,
    storeOptions: STORE_OPTIONS.toString() || '(defaults)',
    seconds: SECONDS,
    rounds: ROUNDS,
    perRound: {
      quotaclock: runs.ours.map(Math.round),
      sameWork: runs.sameWork.map(Math.round),
      bare: runs.bare.map(Math.round),
      nodePostgresSameWork: runs.driver.map(Math.round),
    },
    subjects: SUBJECTS,
    quotaclockPerSec: Math.round(ours),
    pgbenchSameWorkTps: Math.round(sameWork),
    pgbenchBareUpdateTps: Math.round(bare),
    ratioVsSameWork: Number(median(vsSameWork).toFixed(2)),
    ratioVsBareUpdate: Number(median(vsBare).toFixed(2)),
    ratiosPerRound: {
      vsSameWork: vsSameWork.map((r) => Number(r.toFixed(2))),
      vsBareUpdate: vsBare.map((r) => Number(r.toFixed(2))),
      vsNodePostgresSameWork: vsDriver.map((r) => Number(r.toFixed(2))),
    },
    ratioVsNodePostgresSameWork: Number(median(vsDriver).toFixed(2)),
    target: 'ratioVsSameWork >= 0.8',
    invariantViolations: violations.length,
  };
  console.log(`machine:    ${result.machine}`);
  console.log(`postgres:   ${result.postgres}`);
  console.log(`store URL options: ${result.storeOptions}`);
  console.log(
    `quotaclock: ${result.quotaclockPerSec} consumes/s (median of ${ROUNDS} × ${SECONDS} s, ${CLIENTS} clients, ${SUBJECTS} subjects)`,
  );
  console.log(
    `pgbench same-work (guarded upsert + event, one statement): ${result.pgbenchSameWorkTps} tps (median)`,
  );
  console.log(`pgbench bare guarded UPDATE: ${result.pgbenchBareUpdateTps} tps (median)`);
  console.log(`per round: ${JSON.stringify(result.perRound)}`);
  console.log(
    `ratio vs same-work: ${result.ratioVsSameWork} (median of rounds ${result.ratiosPerRound.vsSameWork.join(', ')}; target >= 0.8)`,
  );
  console.log(
    `ratio vs bare UPDATE: ${result.ratioVsBareUpdate} (median of rounds ${result.ratiosPerRound.vsBareUpdate.join(', ')})`,
  );
  console.log(
    `ratio vs the same statement sent by node-postgres (reference): ${result.ratioVsNodePostgresSameWork} (rounds ${result.ratiosPerRound.vsNodePostgresSameWork.join(', ')})`,
  );
  console.log(JSON.stringify(result));
  if (violations.length > 0) process.exitCode = 1;
}

if (isMainThread) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
} else {
  workerLoop(workerData).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
