import { mergeTotals, type CloseTotals } from '../../core/close-summary.js';
import { toIso } from '../../core/period.js';
import { lastEndedPeriod } from '../../core/period-key.js';
import { refuseFutureClose } from '../../core/wall-clock-guard.js';
import type { RunRecord } from '../../store/quota-store.js';
import { unfinishedPeriodsFor } from '../../store/shared/ledger-rules.js';
import { totalsOf, type ClosedPeriodReport } from '../reset-report.js';
import type { ResetContext } from './context.js';
import type { ResetOptions } from './options.js';

/** What a dry run reports: every period a real run would close now, with its totals. */
export async function previewReset(
  ctx: ResetContext,
  nowMs: number,
  only: string | undefined,
): Promise<{ periods: ClosedPeriodReport[]; alreadyClosed: string[] }> {
  const periods = withUnfinished(
    await previewAll(ctx, nowMs, only),
    unfinishedPeriodsFor(await ctx.store.unfinishedRuns()),
    only,
  );
  const alreadyClosed = await alreadyClosedKeys(ctx, nowMs, periods, only);
  ctx.log.info(
    { dryRun: true, periods: periods.map((p) => ({ key: p.key, subjects: p.subjects })) },
    'reset dry run',
  );
  return { periods, alreadyClosed };
}

/**
 * Refuses, before the lease and before any write, to close a period that has
 * not ended on the wall clock. Only a `now` ahead of the wall clock can do
 * that, so a run at the real time costs no extra read.
 */
export async function checkNotAhead(
  ctx: ResetContext,
  nowMs: number,
  opts: Pick<ResetOptions, 'force' | 'forcePeriod' | 'wallClock'>,
): Promise<void> {
  // The true wall clock on purpose: this guard exists to compare `--now` with it.
  const wallMs = (opts.wallClock ?? Date.now)();
  if (opts.force || nowMs <= wallMs) return;
  // Every period the run would close, catch-up included (pendingPeriods has only each subject's oldest).
  const periods = await previewAll(ctx, nowMs, opts.forcePeriod);
  refuseFutureClose(
    periods.map((p) => ({ key: p.key, endMs: Date.parse(p.end) })),
    nowMs,
    wallMs,
    false,
  );
}

async function previewAll(
  ctx: ResetContext,
  nowMs: number,
  only?: string,
): Promise<ClosedPeriodReport[]> {
  const byKey: Record<
    string,
    { subjects: number; startMs: number; endMs: number; summary: CloseTotals }
  > = {};
  let cursor: string | null = null;
  do {
    const batch = await ctx.store.previewBatch(nowMs, cursor, ctx.settings.batchSize);
    for (const [key, v] of Object.entries(batch.byKey)) {
      const e = (byKey[key] ??= { subjects: 0, startMs: v.startMs, endMs: v.endMs, summary: {} });
      e.subjects += v.subjects;
      e.startMs = Math.min(e.startMs, v.startMs);
      e.endMs = Math.max(e.endMs, v.endMs);
      mergeTotals(e.summary, v.summary);
    }
    cursor = batch.cursor;
  } while (cursor !== null);
  return Object.entries(byKey)
    .filter(([key]) => !only || key === only)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, v]) => ({
      key,
      start: toIso(v.startMs),
      end: toIso(v.endMs),
      status: 'dry_run',
      subjects: v.subjects,
      ...totalsOf(v.summary),
      summary: v.summary,
    }));
}

/**
 * A dry run's view of unfinished runs: a real run finishes each and reports
 * the ledger's totals (see finishedRunTotals), so the preview adds what the
 * checkpoints already hold to what is still open, and lists a run with
 * nothing open too.
 */
function withUnfinished(
  preview: ClosedPeriodReport[],
  unfinished: ReadonlyMap<string, RunRecord>,
  only?: string,
): ClosedPeriodReport[] {
  const out = [...preview];
  for (const [key, run] of unfinished) {
    if (only && key !== only) continue;
    const i = out.findIndex((p) => p.key === key);
    const open = out[i];
    const summary = mergeTotals(structuredClone(run.checkpoint.summary), open?.summary ?? {});
    const entry: ClosedPeriodReport = {
      key,
      // As beginRun widens the ledger's row: the earliest start and latest end seen.
      start: [open?.start, run.periodStart].filter((v): v is string => !!v).sort()[0] ?? toIso(0),
      end:
        [open?.end, run.periodEnd]
          .filter((v): v is string => !!v)
          .sort()
          .pop() ?? toIso(0),
      status: 'dry_run',
      subjects: run.checkpoint.subjects + (open?.subjects ?? 0),
      ...totalsOf(summary),
      summary,
    };
    if (open) out[i] = entry;
    else out.push(entry);
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The period a rerun is about ("this month's"), if the ledger already has it closed and this run did not touch it. */
export async function alreadyClosedKeys(
  ctx: ResetContext,
  nowMs: number,
  worked: readonly ClosedPeriodReport[],
  only?: string,
): Promise<string[]> {
  const key = only ?? lastEndedPeriod(ctx.policy.rule, nowMs).key;
  if (worked.some((p) => p.key === key)) return [];
  const run = await ctx.store.getRun(key);
  return run && (run.status === 'closed' || run.status === 'partial') ? [key] : [];
}
