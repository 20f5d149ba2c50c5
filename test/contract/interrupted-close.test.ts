/**
 * Invariant 6 (resumable) step by step: the reset is stopped before each
 * store call it makes, in turn, and run again. "kill": the process is gone
 * at that instant, so nothing after it runs (not even marking the run
 * failed). "fail": that one call fails, and the reset handles the error as
 * it would a real one. Either way the rerun, in a fresh store client as a new
 * process would have, must end in the state of one uninterrupted run, with
 * every run finished and its summary complete. This covers the window after
 * a period's last batch and before its run is finished, which a rerun used to
 * leave `running` for good.
 */
import { expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { runReset } from '../../src/jobs/reset.js';
import type { ResetReport } from '../../src/jobs/reset-report.js';
import { createQuotaClock, policyFromConfig, type QuotaClock } from '../../src/quotaclock.js';
import type { QuotaStore } from '../../src/store/quota-store.js';
import { at, contract, TEST_CONFIG, type ResolvedEngine } from './engines.js';

const OCT5 = at('2026-10-05T00:00:00Z');
const DEC2 = at('2026-12-02T00:00:00Z');
const config = parseConfig({
  ...TEST_CONFIG,
  // Three batches per period, two periods to catch up.
  reset: { batchSize: 3, leaseSeconds: 60, waitForLeaseSeconds: 0 },
});
const policy = policyFromConfig(config);
const SUBJECTS = [
  { id: 'i-0' },
  { id: 'i-1', plan: 'pro' },
  { id: 'i-2' },
  { id: 'i-3', timeZone: 'Asia/Tokyo' },
  { id: 'i-4' },
  { id: 'i-5', plan: 'pro' },
  { id: 'i-6' },
];

class Interrupted extends Error {}

/** The reset rethrows a store error as is, or wrapped (RESET_FAILED) with it as the cause. */
const interruptedBy = (e: unknown) =>
  e instanceof Interrupted || (e instanceof Error && e.cause instanceof Interrupted);

/** The store as the reset sees it, stopped before call number `at` (counting from 0). */
function interrupting(store: QuotaStore, atCall: number, mode: 'kill' | 'fail') {
  const calls: string[] = [];
  let dead = false;
  const holders: Array<{ name: string; holder: string }> = [];
  const proxy = new Proxy(store, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (dead) return Promise.reject(new Interrupted('the process is gone'));
        const n = calls.push(String(prop)) - 1;
        if (prop === 'acquireLease')
          holders.push({ name: String(args[0]), holder: String(args[1]) });
        if (n === atCall) {
          dead = mode === 'kill';
          return Promise.reject(new Interrupted(`${mode} before ${String(prop)} (call ${n})`));
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls, holders };
}

async function seed(qc: QuotaClock): Promise<void> {
  await qc.importSubjects(SUBJECTS, { now: OCT5 });
  for (const [i, s] of SUBJECTS.entries()) {
    await qc.consume(s.id, 'stock_reports', 1 + i, { now: at('2026-10-20T00:00:00Z') });
    if (i % 2 === 0) await qc.consume(s.id, 'exports', 1, { now: at('2026-11-20T00:00:00Z') });
  }
  // At its limit in November.
  await qc.consume('i-0', 'stock_reports', 10, { now: at('2026-11-21T00:00:00Z') });
}

/** Everything a close leaves that two equal runs must agree on. */
async function state(qc: QuotaClock, store: QuotaStore) {
  const runs = (await store.listRuns(100)).map((r) => ({
    key: r.key,
    status: r.status,
    periodStart: r.periodStart,
    periodEnd: r.periodEnd,
    subjects: r.checkpoint.subjects,
    summary: r.checkpoint.summary,
  }));
  const history: Record<string, unknown> = {};
  for (const s of SUBJECTS) history[s.id] = await qc.history(s.id);
  return {
    runs,
    history,
    pending: await store.pendingPeriods(DEC2),
    violations: await store.verify(DEC2),
  };
}

const periodsOf = (r: ResetReport) =>
  Object.fromEntries(
    r.periods.map((p) => [
      p.key,
      {
        status: p.status,
        subjects: p.subjects,
        used: p.used,
        atLimit: p.atLimit,
        summary: p.summary,
      },
    ]),
  );

/** A fresh, seeded store for one interruption; destroyed afterwards. */
async function withStore<T>(
  engine: ResolvedEngine,
  body: (env: {
    store: QuotaStore;
    qc: QuotaClock;
    reopen: () => Promise<{ store: QuotaStore; qc: QuotaClock }>;
  }) => Promise<T>,
): Promise<T> {
  const handle = await engine.create();
  const opened: QuotaStore[] = [];
  const open = async () => {
    const store = await handle.open(policy);
    opened.push(store);
    return { store, qc: createQuotaClock({ config: { ...config, store: handle.url }, store }) };
  };
  try {
    const first = await open();
    await first.store.migrate();
    await seed(first.qc);
    return await body({ ...first, reopen: open });
  } finally {
    for (const s of opened) await s.close().catch(() => undefined);
    await handle.destroy();
  }
}

const VARIANTS = [
  { name: 'kill', mode: 'kill' },
  { name: 'fail', mode: 'fail' },
  // One worker of a sharded close does everything, the period row's marking included.
  { name: 'kill, sharded 0/1', mode: 'kill', shard: { index: 0, count: 1 } },
] as const;

contract('reset interrupted before any step of the close, then run again', ({ engine }) => {
  for (const variant of VARIANTS) {
    const { mode } = variant;
    const shard = 'shard' in variant ? variant.shard : undefined;
    const opts = { now: DEC2, ...(shard ? { shard } : {}) };
    it(`${variant.name}: every interruption point converges to one clean run`, async (t) => {
      const clean = await withStore(engine, async ({ store, qc }) => {
        if (shard && !store.capabilities.shardedClose) return null;
        const counted = interrupting(store, -1, mode);
        const qcCounted = createQuotaClock({ config: qc.config, store: counted.store });
        const report = await runReset(qcCounted, opts);
        return { calls: counted.calls, report, state: await state(qc, store) };
      });
      if (!clean) return t.skip(`${engine.name} does not shard closes`);
      expect(clean.state.violations).toEqual([]);
      expect(
        clean.state.runs
          .filter((r) => !r.key.includes('#'))
          .map((r) => [r.key, r.status, r.subjects]),
      ).toEqual([
        ['2026-11', 'closed', 7],
        ['2026-10', 'closed', 7],
      ]);
      // The window the issue found: the last batch of a period, then finishing its run.
      expect(clean.calls.join(' ')).toContain(
        shard ? 'closeBatch openCount acquireLease' : 'closeBatch openCount finishRun',
      );

      for (let step = 0; step < clean.calls.length; step += 1) {
        const where = `${mode} before call ${step} (${clean.calls[step]})`;
        await withStore(engine, async ({ store, qc, reopen }) => {
          const cut = interrupting(store, step, mode);
          const qcCut = createQuotaClock({ config: qc.config, store: cut.store });
          const outcome = await runReset(qcCut, opts).then(
            () => 'finished' as const,
            (e: unknown) => e,
          );
          // Only the lease's release comes after the work, and its failure is not the run's.
          if (outcome === 'finished') expect(clean.calls[step], where).toBe('releaseLease');
          else expect(interruptedBy(outcome), where).toBe(true);
          // A killed holder's leases are left behind; their takeover is not what this test is about.
          if (mode === 'kill')
            for (const l of cut.holders) await store.releaseLease(l.name, l.holder);
          const next = await reopen();
          const preview = shard ? null : await runReset(next.qc, { ...opts, dryRun: true });
          const rerun = await runReset(next.qc, opts);
          // Invariant 9 after a kill: the dry run said exactly what the rerun then did.
          if (preview) {
            const said = Object.entries(periodsOf(preview));
            const did = periodsOf(rerun);
            expect(
              said.map(([key, p]) => [key, { ...p, status: did[key]?.status }]),
              `${where}: dry run`,
            ).toEqual(Object.entries(did));
          }
          // Whatever the rerun finished, it reports as the clean run did: complete.
          // (A shard reports its own part; the period's totals are in the ledger, compared below.)
          const cleanPeriods = periodsOf(clean.report);
          if (!shard)
            for (const [key, p] of Object.entries(periodsOf(rerun)))
              expect(p, `${where}: report of ${key}`).toEqual(cleanPeriods[key]);
          expect(await state(next.qc, next.store), where).toEqual(clean.state);
          // And once more: nothing left to do.
          const again = await runReset(next.qc, opts);
          expect(again.periods, where).toEqual([]);
        });
      }
    }, 600_000);
  }
});
