import { mergeTotals } from '../../core/close-summary.js';
import { QuotaClockError } from '../../core/errors.js';
import { toIso } from '../../core/period.js';
import type { PendingPeriod } from '../../store/quota-store.js';
import { pendingWork } from '../../store/shared/ledger-rules.js';
import { acquireLease, type HeldLease } from '../lease.js';
import { totalsOf, type ClosedPeriodReport, type ResetReport } from '../reset-report.js';
import { closePass, failRun } from './close-pass.js';
import type { ResetContext } from './context.js';
import type { ResetOptions } from './options.js';
import type { CloseStrategy, PeriodPart, RunStamp } from './strategy.js';

/** A period still open after this many passes is a bug or a store that cannot close it: fail loudly. */
const MAX_PASSES = 5;

type PassOptions = Pick<ResetOptions, 'forcePeriod' | 'signal' | 'onProgress' | 'afterBatch'>;

/** Stamps a report with the run's start, end and holder. */
export function finishReport(
  stamp: RunStamp,
  partial: Omit<ResetReport, 'startedAt' | 'finishedAt' | 'durationMs' | 'holder' | 'dryRun'>,
): ResetReport {
  // The wall clock on purpose: when the run really started and ended, and how long it took.
  const finishedMs = Date.now();
  return {
    dryRun: stamp.dryRun,
    ...partial,
    startedAt: toIso(stamp.startedMs),
    finishedAt: toIso(finishedMs),
    durationMs: finishedMs - stamp.startedMs,
    holder: stamp.holder,
  };
}

/**
 * Closes every period that has ended, oldest first, exactly once per subject,
 * under the strategy's lease. Correctness rests on the store: each subject's
 * mark moves with a conditional update, and each batch commits with its
 * checkpoint. The lease only keeps two schedulers from doing the same work
 * twice over.
 */
export async function closePeriods(
  ctx: ResetContext,
  strategy: CloseStrategy,
  stamp: RunStamp,
  opts: PassOptions,
): Promise<ResetReport> {
  const lease = await acquireLease(ctx.store, {
    name: strategy.leaseName,
    holder: stamp.holder,
    ttlMs: ctx.settings.leaseSeconds * 1000,
    waitMs: ctx.settings.waitForLeaseSeconds * 1000,
  });
  if (!lease) {
    const leaseHolder = await strategy.leaseHeldBy();
    return finishReport(stamp, {
      outcome: 'lease_held',
      periods: [],
      alreadyClosed: [],
      pruned: null,
      leaseHolder: leaseHolder ?? 'unknown',
    });
  }
  ctx.log.info(
    {
      holder: stamp.holder,
      ...strategy.started.fields,
      now: toIso(stamp.nowMs),
      leaseWaitMs: lease.waitedMs,
      ...(lease.takenOverFrom ? { takenOverFrom: lease.takenOverFrom } : {}),
    },
    strategy.started.message,
  );
  // The ledger row begun and not yet finished: the one a failure marks failed.
  const running = { key: null as string | null };
  try {
    const periods = await runPasses(ctx, strategy, stamp, lease, opts, running);
    return finishReport(stamp, { outcome: 'ok', periods, ...(await strategy.wrapUp(periods)) });
  } catch (e) {
    throw await failRun(ctx.store, running.key, stamp.nowMs, e, ctx.log, {
      what: strategy.what,
      ...strategy.failFields(running.key),
    });
  } finally {
    await lease.release().catch((e: unknown) => {
      // Safe to drop: an unreleased lease expires after leaseSeconds, and a holder
      // found dead is taken over at once, so the next run waits at most that long.
      ctx.log.debug({ err: e, lease: strategy.leaseName }, 'could not release the reset lease');
    });
  }
}

async function runPasses(
  ctx: ResetContext,
  strategy: CloseStrategy,
  stamp: RunStamp,
  lease: HeldLease,
  opts: PassOptions,
  running: { key: string | null },
): Promise<ClosedPeriodReport[]> {
  const { store } = ctx;
  const periods: ClosedPeriodReport[] = [];
  const passes = new Map<string, number>();
  // Runs a killed or failed reset left unfinished: pending work even with no subject open.
  // Read once under the lease: no other reset can leave one while this one holds it.
  const unfinished = strategy.unfinished(await store.unfinishedRuns());
  // The pending periods, when the last openCount read them in its scan.
  let known: PendingPeriod[] | undefined;
  for (;;) {
    const next = pendingWork(known ?? (await store.pendingPeriods(stamp.nowMs)), unfinished).find(
      (p) => (!opts.forcePeriod || p.key === opts.forcePeriod) && !strategy.skips(p.key),
    );
    if (!next) return periods;
    const pass = (passes.get(next.key) ?? 0) + 1;
    passes.set(next.key, pass);
    if (pass > MAX_PASSES) {
      throw new QuotaClockError('RESET_FAILED', strategy.tooManyPasses(next.key, pass - 1));
    }
    const ledgerKey = strategy.ledgerKey(next.key);
    running.key = ledgerKey;
    const run = await store.beginRun(ledgerKey, stamp.holder, stamp.nowMs, next);
    strategy.logClosing(next, ledgerKey, run);
    // A run with nothing open (killed after its last batch) only has to be finished;
    // openCount below re-checks, and sends it round again if a subject is open after all.
    const { closed, summary } = await (next.subjects === 0
      ? { closed: 0, summary: {} }
      : closePass(store, {
          key: next.key,
          nowMs: stamp.nowMs,
          cursor: run.checkpoint.cursor,
          batchSize: ctx.settings.batchSize,
          total: next.subjects,
          ...(strategy.shard ? { shard: strategy.shard, ledgerKey } : {}),
          lease,
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
          ...(opts.afterBatch ? { afterBatch: opts.afterBatch } : {}),
        }));
    const open = await store.openCount(next.key, stamp.nowMs);
    known = open.pending;
    const part = await strategy.afterPass({ next, ledgerKey, closed, summary, open });
    if (!part) continue;
    running.key = null;
    unfinished.delete(next.key);
    await strategy.periodFinished(addToPeriods(periods, part));
  }
}

/** Adds a finished pass to its period's line in the report (a period can take several passes). */
function addToPeriods(periods: ClosedPeriodReport[], part: PeriodPart): ClosedPeriodReport {
  const existing = periods.find((p) => p.key === part.key);
  const merged = existing
    ? mergeTotals(structuredClone(existing.summary), part.summary)
    : part.summary;
  const entry: ClosedPeriodReport = {
    key: part.key,
    start: part.start,
    end: part.end,
    status: part.status(existing),
    subjects: (existing?.subjects ?? 0) + part.subjects,
    ...totalsOf(merged),
    summary: merged,
  };
  if (existing) periods[periods.indexOf(existing)] = entry;
  else periods.push(entry);
  return entry;
}
