import { mergeTotals, type CloseTotals } from '../../core/close-summary.js';
import { toIso } from '../../core/period.js';
import { retentionCutoff } from '../../core/period-key.js';
import { finishedRunTotals, unfinishedPeriodsFor } from '../../store/shared/ledger-rules.js';
import { RESET_LEASE } from '../lease.js';
import type { ResetContext } from './context.js';
import { alreadyClosedKeys } from './preview.js';
import type { CloseStrategy, RunStamp } from './strategy.js';

/**
 * The whole close under the one `reset` lease: a period's own ledger row
 * keeps the checkpoint, and the row is finished once no subject has the
 * period ended and open.
 */
export function singleStrategy(
  ctx: ResetContext,
  stamp: RunStamp,
  forcePeriod: string | undefined,
): CloseStrategy {
  const { store, log } = ctx;
  // Every pass counts, including one that leaves subjects for another.
  const passTotals = new Map<string, { subjects: number; summary: CloseTotals }>();
  // Periods whose row an earlier run left unfinished: their totals come from the ledger.
  let resumed = new Set<string>();
  return {
    what: 'reset',
    leaseName: RESET_LEASE,
    started: { fields: {}, message: 'reset started' },
    unfinished(runs) {
      const unfinished = unfinishedPeriodsFor(runs);
      resumed = new Set(unfinished.keys());
      return unfinished;
    },
    skips: () => false,
    ledgerKey: (key) => key,
    tooManyPasses: (key, passes) => `period ${key} still has open subjects after ${passes} passes`,
    failFields: (ledgerKey) => ({ period: ledgerKey }),
    async leaseHeldBy() {
      const current = (await store.listRuns(1))[0];
      log.warn(
        { holder: current?.holder },
        'another reset holds the lease; leaving the work to it',
      );
      return current?.holder;
    },
    logClosing(next, _ledgerKey, run) {
      log.info(
        {
          period: next.key,
          subjects: next.subjects,
          resumeFrom: run.checkpoint.cursor,
          attempt: run.attempts,
        },
        'closing period',
      );
    },
    async afterPass({ next, closed, summary, open }) {
      const sofar = passTotals.get(next.key) ?? { subjects: 0, summary: {} };
      sofar.subjects += closed;
      mergeTotals(sofar.summary, summary);
      passTotals.set(next.key, sofar);
      // Subjects left open (created behind the cursor, or in a zone the store met late): another pass.
      if (open.ended > 0) return null;
      passTotals.delete(next.key);
      const status = open.notYetEnded > 0 ? 'partial' : 'closed';
      const record = await store.finishRun(next.key, status, stamp.nowMs);
      const reported = finishedRunTotals(resumed.delete(next.key), record.checkpoint, sofar);
      return {
        key: next.key,
        start: record.periodStart ?? toIso(next.startMs),
        end: record.periodEnd ?? toIso(next.endMs),
        subjects: reported.subjects,
        summary: reported.summary,
        status: () => status,
      };
    },
    async periodFinished(entry) {
      log.info(
        {
          period: entry.key,
          status: entry.status,
          subjects: entry.subjects,
          used: entry.used,
          atLimit: entry.atLimit,
        },
        'period closed',
      );
    },
    async wrapUp(periods) {
      const alreadyClosed = await alreadyClosedKeys(ctx, stamp.nowMs, periods, forcePeriod);
      const cutoff = retentionCutoff(ctx.policy.rule, ctx.policy.retentionPeriods, stamp.nowMs);
      const pruned = { ...(await store.prune(cutoff, stamp.nowMs)), olderThan: toIso(cutoff) };
      log.info({ periods: periods.length, alreadyClosed, pruned }, 'reset finished');
      return { alreadyClosed, pruned };
    },
  };
}
