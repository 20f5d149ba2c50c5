import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { QuotaClock } from '../../quotaclock.js';
import type { CliContext } from '../context.js';
import { fmtLimit, table, type CommandResult } from '../output.js';

/** A small seeded PRNG so every demo tells the same story. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TICKERS = ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOGL', 'TSLA', 'META', 'BRK.B', 'JPM', 'V'];

/** One demo's shared state: the service, its settable clock, the text and the JSON it builds. */
interface Demo {
  readonly qc: QuotaClock;
  readonly setClock: (ms: number) => void;
  readonly say: (s?: string) => void;
  readonly steps: Record<string, unknown>;
  readonly dbPath: string;
}

export async function run(
  ctx: CliContext,
  _args: string[],
  opts: Record<string, unknown>,
): Promise<CommandResult> {
  const dir = resolve(String(opts.dir ?? '.quotaclock-demo'));
  mkdirSync(dir, { recursive: true });
  const dbPath = join(dir, 'demo.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${dbPath}${suffix}`, { force: true });
  const sample = resolve(dirname(fileURLToPath(import.meta.url)), '../../../samples/users.csv');
  if (!existsSync(sample)) throw new Error(`the shipped sample is missing: ${sample}`);

  const [{ createQuotaClock }, { parseConfig }, { importSubjects }] = await Promise.all([
    import('../../quotaclock.js'),
    import('../../config/parse.js'),
    import('../../jobs/import-subjects.js'),
  ]);
  // synchronous=NORMAL keeps the demo quick; production keeps the FULL default.
  const config = parseConfig({ store: `sqlite:${dbPath}?synchronous=normal` });
  let clock = 0;
  const qc = createQuotaClock({ config, clock: () => clock });
  const out: string[] = [];
  const demo: Demo = {
    qc,
    setClock: (ms) => {
      clock = ms;
    },
    say: (s = '') => out.push(s),
    steps: { database: dbPath },
    dbPath,
  };
  try {
    await qc.init();
    // The month before the one `--now` (or today) is in.
    const today = new Date(ctx.nowMs ?? Date.now());
    const boundary = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1);
    const monthStart = Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1);

    clock = monthStart + 3_600_000;
    const imported = await importSubjects(qc, sample);
    demo.steps.import = imported;
    demo.say(
      `1. Created ${dbPath} with the reference plans and imported ${imported.added} users from samples/users.csv.`,
    );
    demo.say(
      table([
        ['plan', 'stock_reports / month'],
        ...qc.plans().map((p) => [p.name, fmtLimit(p.limits.stock_reports ?? null)]),
      ]),
    );
    const ids = Array.from(
      { length: imported.added },
      (_, i) => `user-${String(i + 1).padStart(4, '0')}`,
    );
    const heavy = await simulateMonth(demo, ids, monthStart, boundary);
    clock = boundary + 60_000;
    await resetAndVerify(demo, clock);
    await showSubject(demo, heavy, ids[0]!);
    return { data: demo.steps, text: out.join('\n') };
  } finally {
    await qc.close();
  }
}

/** Step 2: a month of consumes and refunds; returns the heavy users, who try more than their plan allows. */
async function simulateMonth(
  { qc, setClock, say, steps }: Demo,
  ids: readonly string[],
  monthStart: number,
  boundary: number,
): Promise<Set<string>> {
  const days = Math.round((boundary - monthStart) / 86_400_000);
  const rnd = mulberry32(20261101);
  let granted = 0;
  let denied = 0;
  let refunded = 0;
  // A few heavy users try far more reports than their plan allows.
  const heavy = new Set(ids.filter(() => rnd() < 0.12));
  for (let day = 0; day < days; day += 1) {
    for (const id of ids) {
      const tries = heavy.has(id)
        ? (rnd() < 0.5 ? 2 : 0) + (rnd() < 0.3 ? 3 : 0)
        : rnd() < 0.12
          ? 1
          : 0;
      for (let t = 0; t < tries; t += 1) {
        setClock(monthStart + day * 86_400_000 + Math.floor(rnd() * 86_000_000));
        const reportId = `r-${day}-${id}-${t}`;
        const r = await qc.consume(id, 'stock_reports', 1, {
          key: reportId,
          meta: {
            ticker: TICKERS[Math.floor(rnd() * TICKERS.length)],
            report_id: reportId,
            status: 'started',
          },
        });
        if (!r.granted) {
          denied += 1;
          continue;
        }
        granted += 1;
        // About 2% of report generations fail; the app refunds the unit.
        if (rnd() < 0.02) {
          await qc.refund(id, reportId);
          refunded += 1;
        }
      }
    }
  }
  steps.simulation = { granted, denied, refunded };
  say();
  say(
    `2. Simulated ${new Date(monthStart).toISOString().slice(0, 7)}: ${granted} reports granted, ${denied} refused at the limit (exit 3 in the CLI), ${refunded} refunded after a failed generation.`,
  );
  return heavy;
}

/** Steps 3 to 6: a dry run, the reset, a harmless rerun, and verify. */
async function resetAndVerify({ qc, say, steps }: Demo, nowMs: number): Promise<void> {
  const [{ runReset }, { describeReset }, { runVerify }] = await Promise.all([
    import('../../jobs/reset.js'),
    import('../../jobs/reset-report.js'),
    import('../../jobs/verify.js'),
  ]);
  const plans = qc.policy.catalog.planNames;
  say();
  say(
    `3. The clock is now ${new Date(nowMs).toISOString()}, the 1st at 00:01. First a dry run (writes nothing):`,
  );
  const dry = await runReset(qc, { dryRun: true });
  steps.dryRun = dry;
  say(describeReset(dry, plans));
  say();
  say('4. The real reset:');
  const real = await runReset(qc);
  steps.reset = real;
  say(describeReset(real, plans));
  say();
  say('5. Running it again is safe (cron on two hosts, or a retry):');
  const again = await runReset(qc);
  steps.again = again;
  say(describeReset(again, plans));
  const verify = await runVerify(qc);
  steps.verify = { ok: verify.ok, violations: verify.violations.length };
  say();
  say(
    `6. verify: ${verify.ok ? 'clean' : `${verify.violations.length} violation(s)`} (counters equal their events, no overshoot, every ended period closed).`,
  );
}

/** Step 7: a heavy user who hit the limit starts the new period fresh; then what to try next. */
async function showSubject(
  { qc, say, steps, dbPath }: Demo,
  heavy: ReadonlySet<string>,
  fallback: string,
): Promise<void> {
  let atLimit = fallback;
  for (const id of heavy) {
    const last = (await qc.history(id))[0]?.features.stock_reports;
    if (last && last.limit !== null && last.used >= last.limit) {
      atLimit = id;
      break;
    }
  }
  const status = await qc.status(atLimit);
  const history = await qc.history(atLimit);
  steps.example = { subject: atLimit, status, history };
  say();
  say(
    `7. ${atLimit} (plan ${status.plan}) starts ${status.period.key} fresh, with no job needed for that:`,
  );
  say(
    `   status: ${status.features.stock_reports!.used}/${fmtLimit(status.features.stock_reports!.limit)} used in ${status.period.key}`,
  );
  for (const h of history) {
    say(
      `   history: ${h.key} ${h.closed ? 'closed' : 'open'}: ${h.features.stock_reports!.used}/${fmtLimit(h.features.stock_reports!.limit)}`,
    );
  }
  say();
  say('Next:');
  say(`  quotaclock status ${atLimit} --db ${dbPath}`);
  say(`  quotaclock history ${atLimit} --db ${dbPath}`);
  say(`  quotaclock runs --db ${dbPath}`);
  say(
    '  quotaclock init && quotaclock users import your-users.csv   # your own database (./quotaclock.db)',
  );
  say(
    '  docs/operations.md for the monthly job, docs/migrating-from-python-scripts.md if you ran the old scripts',
  );
}
