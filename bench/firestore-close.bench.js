// npm run bench:firestore — closing a month for N users (default 20,000) in
// the earlier system's Firestore layout, on Google's emulator, two ways over
// identical data in the same run:
//
//   old loop: what scripts/reset_monthly_quotas.py --execute did: stream
//             userQuotas, then per user, one at a time, get the document and
//             update it (counters zeroed, period moved). No history, no ledger.
//   ours:     quotaclock's close through the library: per batch of 5,000 the
//             BulkWriter writes each user's usage_history summary and then the
//             user document (each conditional on the version read), then the
//             batch's checkpoint in the run ledger.
//
// Ours is timed two ways: the batched writer alone (ledger entry, closeBatch to
// the end of the pass, ledger closed), which is what replaces the loop, and the
// whole job (runReset: lease, the scan for open periods, the close, retention).
// All end with every user's December zeroed and January current; ours also
// wrote N history documents and the ledger. Prints one JSON document on stdout.
/* global fetch */
import { performance } from 'node:perf_hooks';
import { Firestore, Timestamp } from '@google-cloud/firestore';
import { createQuotaClock } from '../dist/index.js';
import { runReset } from '../dist/jobs/reset.js';
import { emulator } from './lib/firestore-emulator.js';
import { machine } from './lib/machine.js';

const N = Number(process.env.BENCH_USERS ?? 20_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 5000);
const NOW = Date.parse('2026-01-01T00:01:00Z');
const DEC_START = Timestamp.fromMillis(Date.parse('2025-12-01T00:00:00Z'));
const DEC_END = Timestamp.fromMillis(Date.parse('2025-12-31T23:59:59Z'));
const JAN_START = Timestamp.fromMillis(Date.parse('2026-01-01T00:00:00Z'));
const JAN_END = Timestamp.fromMillis(Date.parse('2026-01-31T23:59:59Z'));
const PLANS = [
  ['free', 10],
  ['pro', 45],
  ['pro_plus', 100],
  ['enterprise', -1],
];

const log = (...a) => console.error(...a);
const client = (projectId) => new Firestore({ projectId, universeDomain: 'googleapis.com' });

/** N users as the Python code wrote them, mid-December. */
async function seed(db, n) {
  const bw = db.bulkWriter({ throttling: false });
  for (let i = 0; i < n; i += 1) {
    const uid = `u${String(i).padStart(7, '0')}`;
    const [plan, limit] = PLANS[i % 4];
    const used = i % 11;
    const created = Timestamp.fromMillis(Date.parse('2025-06-01T00:00:00Z') + i * 1000);
    void bw.set(db.collection('userQuotas').doc(uid), {
      user_uid: uid,
      plan_type: plan,
      plan_updated_at: created,
      quota_limits: { stock_reports_monthly: limit },
      current_usage: { stock_reports: used },
      current_period_start: DEC_START,
      current_period_end: DEC_END,
      last_reset: DEC_START,
      created_at: created,
      updated_at: created,
      is_suspended: false,
      suspension_reason: null,
      lifetime_stats: { total_stock_reports: used * 3, member_since: created },
    });
  }
  await bw.close();
}

/** The Python reset loop, faithfully sequential: one get and one update per user. */
async function oldLoop(db) {
  const ids = (await db.collection('userQuotas').select().get()).docs.map((d) => d.id);
  for (const id of ids) {
    const ref = db.collection('userQuotas').doc(id);
    const snap = await ref.get();
    const q = snap.data();
    const now = Timestamp.now();
    await ref.update({
      ...q,
      current_usage: { stock_reports: 0 },
      current_period_start: JAN_START,
      current_period_end: JAN_END,
      last_reset: now,
      updated_at: now,
    });
  }
  return ids.length;
}

async function check(db, withHistory) {
  const open = await db
    .collection('userQuotas')
    .where('current_period_end', '<', JAN_START)
    .count()
    .get();
  const history = withHistory
    ? (await db.collectionGroup('usage_history').count().get()).data().count
    : null;
  return { stillOpen: open.data().count, history };
}

const WARMUP = Number(process.env.BENCH_WARMUP ?? 2000);

function quotaclock(projectId) {
  return createQuotaClock({
    config: {
      store: `firestore://${projectId}`,
      reset: { batchSize: BATCH, leaseSeconds: 300, waitForLeaseSeconds: 0 },
    },
  });
}

/**
 * The batched writer alone: the ledger entry, then closeBatch until the pass
 * ends (each batch: read, history documents, user documents, checkpoint), then
 * the ledger closed. What the old loop did, plus history and ledger.
 */
async function oursWriter(projectId, n) {
  const qc = quotaclock(projectId);
  const store = await qc.store();
  const t = performance.now();
  await store.beginRun('2025-12', 'bench', NOW, {
    startMs: DEC_START.toMillis(),
    endMs: Date.parse('2026-01-01T00:00:00Z'),
  });
  let cursor = null;
  let closed = 0;
  do {
    const b = await store.closeBatch({
      key: '2025-12',
      nowMs: NOW,
      cursor,
      batchSize: BATCH,
      write: true,
    });
    closed += b.closed;
    cursor = b.cursor;
  } while (cursor !== null);
  await store.finishRun('2025-12', 'closed', NOW);
  const ms = performance.now() - t;
  await qc.close();
  if (closed !== n) throw new Error(`the writer closed ${closed} of ${n}`);
  return ms;
}

/** The whole job, as `quotaclock reset` runs it: lease, scan for open periods, the close, ledger, retention. */
async function oursJob(projectId, n) {
  const qc = quotaclock(projectId);
  const t = performance.now();
  const report = await runReset(qc, { now: NOW });
  const ms = performance.now() - t;
  await qc.close();
  if (report.periods[0]?.subjects !== n)
    throw new Error(`the job closed ${report.periods[0]?.subjects} of ${n}`);
  return ms;
}

async function main() {
  const emu = await emulator();
  const stamp = Date.now().toString(36);
  const names = ['warmWriter', 'warmJob', 'warmLoop', 'writer1', 'job1', 'loop', 'writer2', 'job2'];
  const projects = Object.fromEntries(names.map((k) => [k, `bench-${k.toLowerCase()}-${stamp}`]));
  const dbs = Object.fromEntries(Object.entries(projects).map(([k, p]) => [k, client(p)]));
  try {
    // The emulator is a JVM: every contender runs once on a small project first.
    log(`warming up the emulator on ${emu.host} (${WARMUP} users each) …`);
    for (const k of ['warmWriter', 'warmJob', 'warmLoop']) await seed(dbs[k], WARMUP);
    await oursWriter(projects.warmWriter, WARMUP);
    await oursJob(projects.warmJob, WARMUP);
    await oldLoop(dbs.warmLoop);

    log(`seeding ${N} users five times …`);
    let t = performance.now();
    for (const k of ['writer1', 'job1', 'loop', 'writer2', 'job2']) await seed(dbs[k], N);
    const seedMs = performance.now() - t;

    // Ours before and after the old loop: load drifting during the run shows as a gap between them.
    const writer = [];
    const job = [];
    log('ours: the batched writer …');
    writer.push(await oursWriter(projects.writer1, N));
    log(`  ${Math.round(writer[0])} ms`);
    log('ours: the whole reset job …');
    job.push(await oursJob(projects.job1, N));
    log(`  ${Math.round(job[0])} ms`);
    log('old loop: sequential get + update per user …');
    t = performance.now();
    const looped = await oldLoop(dbs.loop);
    const loopMs = performance.now() - t;
    if (looped !== N) throw new Error(`old loop visited ${looped}`);
    log(`  ${Math.round(loopMs)} ms`);
    log('ours again …');
    writer.push(await oursWriter(projects.writer2, N));
    job.push(await oursJob(projects.job2, N));
    log(`  writer ${Math.round(writer[1])} ms, job ${Math.round(job[1])} ms`);

    for (const k of ['writer1', 'job1', 'loop', 'writer2', 'job2']) {
      const v = await check(dbs[k], k !== 'loop');
      if (v.stillOpen !== 0 || (v.history !== null && v.history !== N)) {
        throw new Error(`incomplete close in ${k}: ${JSON.stringify(v)}`);
      }
    }
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const result = {
      bench: 'firestore close',
      machine: machine(),
      users: N,
      batchSize: BATCH,
      seedMs: Math.round(seedMs),
      oldLoopMs: Math.round(loopMs),
      oursWriterMs: writer.map(Math.round),
      oursJobMs: job.map(Math.round),
      oldLoopUsersPerSecond: Math.round((N / loopMs) * 1000),
      oursWriterUsersPerSecond: Math.round((N / mean(writer)) * 1000),
      ratioWriter: Number((loopMs / mean(writer)).toFixed(1)),
      ratioJob: Number((loopMs / mean(job)).toFixed(1)),
      ratioWriterWorst: Number((loopMs / Math.max(...writer)).toFixed(1)),
      ratioJobWorst: Number((loopMs / Math.max(...job)).toFixed(1)),
      target: 10,
    };
    console.log(JSON.stringify(result, null, 2));
    log(
      `old loop ${result.oldLoopMs} ms; batched writer ${result.oursWriterMs.join(' / ')} ms = ${result.ratioWriter}×; ` +
        `whole job ${result.oursJobMs.join(' / ')} ms = ${result.ratioJob}× (target ≥ 10×)`,
    );
  } finally {
    for (const db of Object.values(dbs)) await db.terminate();
    for (const p of Object.values(projects)) {
      await fetch(`http://${emu.host}/emulator/v1/projects/${p}/databases/(default)/documents`, {
        method: 'DELETE',
      }).catch(() => undefined);
    }
    await emu.stop();
  }
}

await main();
