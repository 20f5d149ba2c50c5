// npm run bench:firestore — closing a month for N users (default 20,000) in
// the earlier system's Firestore layout, on Google's emulator, two ways over
// identical data in the same run:
//
//   old loop: what scripts/reset_monthly_quotas.py --execute did: stream
//             userQuotas, then per user, one at a time, get the document and
//             update it (counters zeroed, period moved). No history, no ledger.
//   ours:     `quotaclock reset` through the library (runReset): the indexed
//             scan of ended periods, the ledger, and per batch the BulkWriter
//             writing each user's usage_history summary and then the user
//             document (each conditional on the version read), the checkpoint,
//             the recount of the ledger's totals, and retention.
//
// Both end with every user's December zeroed and January current; ours also
// wrote N history documents and the ledger. Prints one JSON document on stdout.
/* global fetch */
import { performance } from 'node:perf_hooks';
import { Firestore, Timestamp } from '@google-cloud/firestore';
import { createQuotaClock } from '../dist/index.js';
import { runReset } from '../dist/jobs/reset.js';
import { emulator } from './lib/firestore-emulator.js';
import { machine } from './lib/machine.js';

const N = Number(process.env.BENCH_USERS ?? 20_000);
// Both contenders are timed in one run: ours, then the old loop, then ours again on
// a fresh copy, so load that drifts during the run shows up as a gap between the two.
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

async function ours(projectId) {
  const qc = createQuotaClock({
    config: {
      store: `firestore://${projectId}`,
      reset: { batchSize: BATCH, leaseSeconds: 300, waitForLeaseSeconds: 0 },
    },
  });
  const t = performance.now();
  const report = await runReset(qc, { now: NOW });
  const ms = performance.now() - t;
  await qc.close();
  const closed = report.periods[0]?.subjects;
  if (closed !== N && closed !== WARMUP) throw new Error(`ours closed ${closed}`);
  return ms;
}

const WARMUP = Number(process.env.BENCH_WARMUP ?? 2000);

async function main() {
  const emu = await emulator();
  const stamp = Date.now().toString(36);
  const projects = {
    warm: `bench-warm-${stamp}`,
    warmLoop: `bench-warm-loop-${stamp}`,
    ours1: `bench-ours1-${stamp}`,
    loop: `bench-loop-${stamp}`,
    ours2: `bench-ours2-${stamp}`,
  };
  const dbs = Object.fromEntries(Object.entries(projects).map(([k, p]) => [k, client(p)]));
  try {
    // The emulator is a JVM: both contenders run once on a small project first.
    log(`warming up the emulator on ${emu.host} (${WARMUP} users each way) …`);
    await seed(dbs.warm, WARMUP);
    await seed(dbs.warmLoop, WARMUP);
    await ours(projects.warm);
    await oldLoop(dbs.warmLoop);

    log(`seeding ${N} users three times …`);
    let t = performance.now();
    for (const k of ['ours1', 'loop', 'ours2']) await seed(dbs[k], N);
    const seedMs = performance.now() - t;

    // ours, old loop, ours again: load drifting during the run shows as a gap between the two.
    log('ours (1/2): runReset with the BulkWriter …');
    const ours1 = await ours(projects.ours1);
    log(`  ${Math.round(ours1)} ms`);
    log('old loop: sequential get + update per user …');
    t = performance.now();
    const looped = await oldLoop(dbs.loop);
    const loopMs = performance.now() - t;
    if (looped !== N) throw new Error(`old loop visited ${looped}`);
    log(`  ${Math.round(loopMs)} ms`);
    log('ours (2/2) …');
    const ours2 = await ours(projects.ours2);
    log(`  ${Math.round(ours2)} ms`);

    const after = {
      ours1: await check(dbs.ours1, true),
      ours2: await check(dbs.ours2, true),
      loop: await check(dbs.loop, false),
    };
    for (const [k, v] of Object.entries(after)) {
      if (v.stillOpen !== 0 || (v.history !== null && v.history !== N)) {
        throw new Error(`incomplete close in ${k}: ${JSON.stringify(v)}`);
      }
    }
    const oursMs = (ours1 + ours2) / 2;
    const result = {
      bench: 'firestore close',
      machine: machine(),
      users: N,
      batchSize: BATCH,
      seedMs: Math.round(seedMs),
      oldLoopMs: Math.round(loopMs),
      oursMs: [Math.round(ours1), Math.round(ours2)],
      oldLoopUsersPerSecond: Math.round((N / loopMs) * 1000),
      oursUsersPerSecond: Math.round((N / oursMs) * 1000),
      ratio: Number((loopMs / oursMs).toFixed(1)),
      ratioWorstOurs: Number((loopMs / Math.max(ours1, ours2)).toFixed(1)),
      target: 10,
      historyDocuments: after.ours1.history,
    };
    console.log(JSON.stringify(result, null, 2));
    log(
      `old loop ${result.oldLoopMs} ms, ours ${result.oursMs.join(' / ')} ms: ${result.ratio}× (target ≥ 10×)`,
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
