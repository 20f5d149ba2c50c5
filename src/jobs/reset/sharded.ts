import { mergeTotals, type CloseTotals } from '../../core/close-summary.js';
import { QuotaClockError } from '../../core/errors.js';
import { toIso } from '../../core/period.js';
import { retentionCutoff } from '../../core/period-key.js';
import type { RunCheckpoint } from '../../store/quota-store.js';
import { shardLedgerKey, unfinishedPeriodsFor } from '../../store/shared/ledger-rules.js';
import { acquireLease, newHolderId } from '../lease.js';
import { totalsOf, type ResetReport } from '../reset-report.js';
import type { ResetContext } from './context.js';
import type { Shard } from './shard.js';
import type { CloseStrategy, RunStamp } from './strategy.js';

type FinalStatus = 'closed' | 'partial';

/**
 * One of n workers closing the ended periods in parallel. Each worker holds
 * its own lease (`reset:shard:i/n`) and keeps its own checkpoint in the
 * ledger row `<period>#shard-i-of-n`. Correctness still rests on the
 * conditional mark update: a subject is closed once whoever gets to it. The
 * period's own row is finished by whichever worker, after its last batch,
 * finds no subject with that period ended and open; that step runs under the
 * `reset:finalize` lease and skips a row already closed, so it happens once,
 * with the totals summed over the shard rows.
 */
export function shardedStrategy(ctx: ResetContext, stamp: RunStamp, shard: Shard): CloseStrategy {
  const { store, log } = ctx;
  const name = `${shard.index}/${shard.count}`;
  const leaseName = `reset:shard:${name}`;
  // Periods this worker has nothing more for.
  const done = new Set<string>();
  let final: FinalStatus | null = null;
  let pruned: ResetReport['pruned'] = null;
  return {
    what: 'sharded reset',
    leaseName,
    shard,
    started: { fields: { shard: name }, message: 'sharded reset started' },
    // This shard's rows and any period row a killed worker left unfinished: pending work too.
    unfinished: (runs) => unfinishedPeriodsFor(runs, shard),
    skips: (key) => done.has(key),
    ledgerKey: (key) => shardLedgerKey(key, shard),
    tooManyPasses: (key, passes) =>
      `period ${key} still has open subjects in shard ${name} after ${passes} passes`,
    failFields: (ledgerKey) => ({ ledgerKey }),
    async leaseHeldBy() {
      const current = await store.currentLease(leaseName);
      log.warn(
        { lease: leaseName, holder: current?.holder },
        'another worker holds this shard; leaving the work to it',
      );
      return current?.holder;
    },
    logClosing(next, ledgerKey, run) {
      log.info(
        { period: next.key, ledgerKey, resumeFrom: run.checkpoint.cursor, attempt: run.attempts },
        'closing shard of period',
      );
    },
    async afterPass({ next, ledgerKey, closed, summary, open }) {
      // This shard has nothing more for the key when a pass closed nothing, or no one has it open.
      if (closed === 0 || open.ended === 0) done.add(next.key);
      const status: FinalStatus = open.notYetEnded > 0 ? 'partial' : 'closed';
      // The period's own row is marked before this shard's row is finished: a kill in
      // between leaves this row unfinished, so the rerun comes back and marks the period.
      const marked =
        open.ended === 0 ? await finalizePeriod(ctx, stamp, next.key, shard, status) : null;
      final = marked;
      await store.finishRun(ledgerKey, status, stamp.nowMs);
      return {
        key: next.key,
        start: toIso(next.startMs),
        end: toIso(next.endMs),
        subjects: closed,
        summary,
        // 'shard_done': this worker's part is closed; the period row is marked by the last worker.
        status: (existing) => marked ?? existing?.status ?? 'shard_done',
      };
    },
    async periodFinished() {
      if (!final) return;
      const cutoff = retentionCutoff(ctx.policy.rule, ctx.policy.retentionPeriods, stamp.nowMs);
      pruned ??= { ...(await store.prune(cutoff, stamp.nowMs)), olderThan: toIso(cutoff) };
    },
    async wrapUp(periods) {
      log.info({ shard: name, periods: periods.length }, 'sharded reset finished');
      return { alreadyClosed: [], pruned };
    },
  };
}

/** Marks the period's own ledger row, once, with the totals of all n shard rows; null if another worker already did. */
async function finalizePeriod(
  ctx: ResetContext,
  stamp: RunStamp,
  key: string,
  shard: Shard,
  status: FinalStatus,
): Promise<FinalStatus | null> {
  const { store, log } = ctx;
  const holder = newHolderId();
  const lease = await acquireLease(store, {
    name: 'reset:finalize',
    holder,
    ttlMs: ctx.settings.leaseSeconds * 1000,
    waitMs: Math.max(30_000, ctx.settings.waitForLeaseSeconds * 1000),
  });
  if (!lease)
    throw new QuotaClockError(
      'RESET_FAILED',
      `could not take the reset:finalize lease to mark ${key}`,
    );
  try {
    const own = await store.getRun(key);
    if (own?.status === 'closed') return null;
    const open = await store.openCount(key, stamp.nowMs);
    if (open.ended > 0) return null; // someone reopened work; the worker that closes it finalizes
    const merged = await sumShardRows(ctx, key, shard);
    const period = Number.isFinite(merged.start)
      ? { startMs: merged.start, endMs: merged.end }
      : { startMs: stamp.nowMs, endMs: stamp.nowMs };
    await store.beginRun(key, holder, stamp.nowMs, period);
    const checkpoint: RunCheckpoint = {
      cursor: null,
      subjects: merged.subjects,
      summary: merged.summary,
    };
    await store.finishRun(key, status, stamp.nowMs, undefined, checkpoint);
    log.info(
      { period: key, status, subjects: merged.subjects, ...totalsOf(merged.summary) },
      'period closed (all shards)',
    );
    return status;
  } finally {
    await lease.release().catch((e: unknown) => {
      // Safe to drop: the finalize lease expires after leaseSeconds, and a holder
      // found dead is taken over at once, so the next worker waits at most that long.
      log.debug({ err: e, lease: 'reset:finalize' }, 'could not release the finalize lease');
    });
  }
}

/** The totals and widest period span over the n shard rows of one period. */
async function sumShardRows(
  ctx: ResetContext,
  key: string,
  shard: Shard,
): Promise<{ subjects: number; summary: CloseTotals; start: number; end: number }> {
  const merged = { subjects: 0, summary: {} as CloseTotals, start: Infinity, end: -Infinity };
  for (let i = 0; i < shard.count; i += 1) {
    const r = await ctx.store.getRun(shardLedgerKey(key, { index: i, count: shard.count }));
    if (!r) continue;
    merged.subjects += r.checkpoint.subjects;
    mergeTotals(merged.summary, r.checkpoint.summary);
    if (r.periodStart) merged.start = Math.min(merged.start, Date.parse(r.periodStart));
    if (r.periodEnd) merged.end = Math.max(merged.end, Date.parse(r.periodEnd));
  }
  return merged;
}
