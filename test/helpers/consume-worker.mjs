// A separate OS process that hammers one SQLite file through the built library.
// Started by test/integration/sqlite-concurrency.test.ts with child_process.fork.
//
// env: QC_DIST (file URL of dist/index.js), QC_DB (SQLite path), QC_WORKER (index),
//      QC_SUBJECTS (comma-separated ids), QC_ROUNDS, QC_MONTHS (comma-separated epoch ms,
//      one instant per month; the rounds are split evenly over them, so every month is a
//      fresh race for the same limit), QC_JITTER_MS (max pause between calls).
// Protocol: sends {type:'ready'}, waits for {type:'go'}, then sends
// {type:'done', results, errors} and exits.

import { setTimeout as sleep } from 'node:timers/promises';

const { createQuotaClock } = await import(process.env.QC_DIST);

const worker = Number(process.env.QC_WORKER);
const subjects = process.env.QC_SUBJECTS.split(',');
const rounds = Number(process.env.QC_ROUNDS);
const months = process.env.QC_MONTHS.split(',').map(Number);
const jitterMs = Number(process.env.QC_JITTER_MS ?? 0);
const roundsPerMonth = Math.ceil(rounds / months.length);

const qc = createQuotaClock({ config: { store: `sqlite:${process.env.QC_DB}` } });

/** Small deterministic PRNG so each worker visits subjects in its own order. */
let seed = 0x9e3779b9 ^ (worker * 0x85ebca6b);
const random = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};

const results = [];
const errors = [];

/**
 * A short random pause between calls, as between real requests. Without it one
 * process re-takes SQLite's write lock right after each commit while the others
 * sleep in the busy handler, and the "race" runs one process at a time.
 */
const pause = () => (jitterMs > 0 ? sleep(Math.floor(random() * (jitterMs + 1))) : undefined);

async function attempt(subject, amount, key, kind, now) {
  await pause();
  try {
    const meta = { worker };
    const r = await qc.consume(
      subject,
      'stock_reports',
      amount,
      key === undefined ? { meta, now } : { key, meta, now },
    );
    results.push({
      worker,
      subject,
      amount,
      key: key ?? null,
      kind,
      granted: r.granted,
      used: r.used,
      limit: r.limit,
      remaining: r.remaining,
      period: r.period.key,
      reason: r.reason ?? null,
      replayed: r.replayed === true,
    });
  } catch (e) {
    errors.push({
      worker,
      subject,
      amount,
      key: key ?? null,
      code: e?.code ?? null,
      message: String(e?.message ?? e),
    });
  }
}

async function run() {
  for (let r = 0; r < rounds; r += 1) {
    const now = months[Math.floor(r / roundsPerMonth)];
    const order = [...subjects].sort(() => random() - 0.5);
    for (const subject of order) {
      const amount = r % 5 === 0 ? 2 : 1;
      if (r % 4 === 0) {
        // The same key is sent by every worker at about the same time: one must win, the rest replay.
        await attempt(subject, amount, `${subject}:shared:${r}`, 'shared', now);
      } else if (r % 4 === 1) {
        // A client retry: this worker sends its own key twice.
        const key = `${subject}:w${worker}:${r}`;
        await attempt(subject, amount, key, 'first', now);
        await attempt(subject, amount, key, 'retry', now);
      } else {
        await attempt(subject, amount, undefined, 'plain', now);
      }
    }
  }
}

process.on('message', (msg) => {
  if (msg?.type !== 'go') return;
  run()
    .catch((e) => errors.push({ worker, code: 'WORKER', message: String(e?.stack ?? e) }))
    .finally(async () => {
      await qc.close();
      process.send({ type: 'done', results, errors }, () => process.exit(0));
    });
});

// Open the store before reporting ready, so the race starts at the first consume.
await qc.store();
process.send({ type: 'ready' });
